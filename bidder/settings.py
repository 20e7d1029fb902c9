"""Process settings from the environment, read once through one object (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "../shared/data"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if environ is None else environ
        return cls(data_dir=Path(env.get("RTB_DATA_DIR", DEFAULT_DATA_DIR)))


def data_dir() -> Path:
    """The shared data folder (``RTB_DATA_DIR``, default ``../shared/data``)."""
    return Settings.from_env().data_dir

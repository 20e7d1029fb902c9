"""Whole-file persistence for the embedded stores: atomic JSON writes and checked reads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson


class StoreFileError(ValueError):
    """A store file that is not what ``save`` writes (wrong kind, version or shape)."""

    code = "bad_store_file"

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Serialise ``document`` to ``path.tmp``, fsync, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(orjson.dumps(document))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_document(path: Path, kind: str, version: int) -> dict[str, Any]:
    """The JSON object in ``path``, checked to be a ``kind`` file of ``version``."""
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise StoreFileError(path, f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise StoreFileError(path, "top level is not an object")
    if document.get("kind") != kind or document.get("version") != version:
        found = (document.get("kind"), document.get("version"))
        raise StoreFileError(path, f"expected a {kind!r} file of version {version}, got {found}")
    return document

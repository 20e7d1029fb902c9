"""A one-line progress counter on stderr, silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """``label: done/total`` rewritten in place; ``enabled`` defaults to ``stream.isatty()``."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._total = total
        self._label = label
        self._done = 0

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._enabled:
            self._stream.write(f"\r{self._label}: {self._done}/{self._total}")
            self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()

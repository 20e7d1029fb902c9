"""A simulated clock: the replay sets it from the log's timestamps."""

from __future__ import annotations


class SimClock:
    """Callable returning seconds since the epoch, moved only by ``set``."""

    __slots__ = ("now_s",)

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def set(self, now_s: float) -> None:
        self.now_s = now_s

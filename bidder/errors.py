"""The bidder's error types: one place, each with a stable code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in an input, located by its path (``imp[0].banner.w``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RequestError(Exception):
    """A bid request that cannot be parsed or is malformed (answered with HTTP 400)."""

    code = "bad_request"

    def __init__(self, problems: list[Problem], reason: str = "invalid") -> None:
        self.problems = problems
        self.reason = reason
        super().__init__("; ".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class ConfigError(Exception):
    """A config file with one or more problems; every problem is listed at once."""

    code = "bad_config"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class NoticeError(Exception):
    """A win/bill/loss/click notice refused; ``reason`` is a closed-set label for metrics."""

    code = "bad_notice"

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        self.reason = reason
        self.status = status
        super().__init__(message)


class ModelError(Exception):
    """A CTR model that cannot be loaded or fails its checks."""

    code = "bad_model"

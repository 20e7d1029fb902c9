"""UniqueUsers: a HyperLogLog sketch; its error stays within what the module states."""

from __future__ import annotations

import math

import pytest

from bidder.unique_users import REGISTERS, RELATIVE_STANDARD_ERROR, UniqueUsers


def test_unique_users_empty_is_zero_and_falsy() -> None:
    users = UniqueUsers()

    assert len(users) == 0
    assert not users


def test_unique_users_repeats_count_once() -> None:
    users = UniqueUsers()
    for _ in range(1000):
        users.add("user-hash-1")
    users.add("user-hash-2")

    assert len(users) == 2
    assert users


@pytest.mark.parametrize("n", [1, 3, 10, 50, 100])
def test_unique_users_small_counts_are_exact(n: int) -> None:
    users = UniqueUsers()
    for i in range(n):
        users.add(f"small-{i}")

    assert len(users) == n


def test_unique_users_error_within_the_stated_standard_error() -> None:
    """Fixed inputs over the linear-counting and the HyperLogLog ranges (0.06x to 5x the
    registers): every estimate within 4 standard errors, their RMS within 1.5."""
    errors = []
    for n in (1_000, 20_000, 80_000):
        for run in range(4):
            users = UniqueUsers()
            for i in range(n):
                users.add(f"run-{run}-user-{i}")
            errors.append((users.estimate() - n) / n / RELATIVE_STANDARD_ERROR)

    assert max(abs(e) for e in errors) < 4.0, errors
    assert math.sqrt(sum(e * e for e in errors) / len(errors)) < 1.5, errors


def test_unique_users_memory_is_fixed() -> None:
    users = UniqueUsers()
    before = users.nbytes
    for i in range(20_000):
        users.add(f"u{i}")

    assert users.nbytes == before == REGISTERS

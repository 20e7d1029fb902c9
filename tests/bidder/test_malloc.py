"""glibc malloc tuning at startup: applied unless disabled or set by the environment."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from bidder.malloc import (
    DEFAULT_SETTINGS,
    M_ARENA_MAX,
    M_MMAP_THRESHOLD,
    M_TRIM_THRESHOLD,
    glibc_mallopt,
    tune_malloc,
)

ROOT = Path(__file__).resolve().parents[2]


class _Mallopt:
    def __init__(self, result: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.result = result

    def __call__(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return self.result


def test_tune_malloc_applies_each_setting_and_exports_it() -> None:
    mallopt, environ = _Mallopt(), {"PATH": "/bin"}

    applied = tune_malloc(environ=environ, mallopt=mallopt)

    assert mallopt.calls == [
        (M_MMAP_THRESHOLD, 131072), (M_TRIM_THRESHOLD, 131072), (M_ARENA_MAX, 2)
    ]  # fmt: skip
    assert applied == {s.name: s.value for s in DEFAULT_SETTINGS}
    assert environ == {
        "PATH": "/bin", "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_TRIM_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2",
    }  # fmt: skip


def test_tune_malloc_disabled_does_nothing() -> None:
    mallopt, environ = _Mallopt(), {}

    assert tune_malloc(False, environ=environ, mallopt=mallopt) == {}
    assert mallopt.calls == [] and environ == {}


def test_tune_malloc_leaves_what_the_environment_set() -> None:
    mallopt, environ = _Mallopt(), {"MALLOC_ARENA_MAX": "8"}

    applied = tune_malloc(environ=environ, mallopt=mallopt)

    assert M_ARENA_MAX not in [param for param, _ in mallopt.calls]
    assert "arena_max" not in applied and environ["MALLOC_ARENA_MAX"] == "8"
    assert tune_malloc(environ={"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"},
                       mallopt=mallopt) == {}  # fmt: skip


def test_tune_malloc_failed_mallopt_is_not_reported_or_exported() -> None:
    environ: dict[str, str] = {}

    assert tune_malloc(environ=environ, mallopt=_Mallopt(result=0)) == {}
    assert environ == {}


_CHILD = """
import ctypes, sys
from bidder.malloc import tune_malloc

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(16 << 20))  # freeing a mapped block raises glibc's threshold to it
if sys.argv[1] == "tuned":
    tune_malloc(environ={})
before = libc.mallinfo2().hblkhd
block = libc.malloc(4 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.parametrize(("mode", "mapped"), [("tuned", True), ("default", False)])
def test_tune_malloc_on_glibc_maps_blocks_above_the_threshold(mode: str, mapped: bool) -> None:
    """In a fresh process: once glibc's dynamic threshold has grown, a 4 MiB block comes
    from the heap by default, but after tuning it is a mapping of its own (``hblkhd``),
    returned to the OS when freed."""
    assert glibc_mallopt() is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True,
        cwd=ROOT, env=env,
    )  # fmt: skip
    assert (int(out.stdout) >= 4 << 20) is mapped

"""glibc's malloc settings for the daemon: two arenas, fixed mmap and trim thresholds, each
left to the environment where it sets its own; nothing outside Linux."""

from __future__ import annotations

import pytest

from cortexd.daemon.malloc import (
    M_ARENA_MAX,
    M_MMAP_THRESHOLD,
    M_TRIM_THRESHOLD,
    libc_mallopt,
    tune_malloc,
)


def recorder() -> tuple[list[tuple[int, int]], object]:
    calls: list[tuple[int, int]] = []

    def mallopt(param: int, value: int) -> int:
        calls.append((param, value))
        return 1

    return calls, mallopt


def test_linux_gets_two_arenas_and_fixed_thresholds() -> None:
    calls, mallopt = recorder()
    done = tune_malloc({}, "linux", mallopt)  # type: ignore[arg-type]
    assert calls == [(M_ARENA_MAX, 2), (M_MMAP_THRESHOLD, 131072), (M_TRIM_THRESHOLD, 131072)]
    assert done == ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]


def test_the_environments_own_settings_win() -> None:
    calls, mallopt = recorder()
    done = tune_malloc({"MALLOC_ARENA_MAX": "8"}, "linux", mallopt)  # type: ignore[arg-type]
    assert M_ARENA_MAX not in [param for param, _ in calls]
    assert "MALLOC_ARENA_MAX" not in done and len(done) == 2


def test_a_glibc_tunable_wins_too() -> None:
    calls, mallopt = recorder()
    environ = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536:glibc.malloc.tcache_count=0"}
    done = tune_malloc(environ, "linux", mallopt)  # type: ignore[arg-type]
    assert done == ["MALLOC_ARENA_MAX", "MALLOC_TRIM_THRESHOLD_"]
    assert M_MMAP_THRESHOLD not in [param for param, _ in calls]


def test_nothing_is_set_outside_linux() -> None:
    calls, mallopt = recorder()
    assert tune_malloc({}, "darwin", mallopt) == []  # type: ignore[arg-type]
    assert calls == []


def test_a_refused_setting_is_not_reported_set() -> None:
    assert tune_malloc({}, "linux", lambda param, value: 0) == []


@pytest.mark.skipif(libc_mallopt() is None, reason="glibc's mallopt (not musl, not macOS)")
def test_this_machines_glibc_takes_them() -> None:
    # (pytest-xdist's workers have started threads: glibc still takes each setting.)
    assert tune_malloc({}) == [
        "MALLOC_ARENA_MAX",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
    ]

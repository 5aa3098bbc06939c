"""Running the `cortex` CLI against a daemon's socket in this process: its `main()`, with
argv, standard streams and exit status as a shell would give them. `CORTEX` is the installed
program, for the few tests where its process is the point."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cortexd.cli import main

CORTEX = str(Path(sys.executable).parent / "cortex")
#: Wide enough that rich never folds a table cell a test looks for.
COLUMNS = "200"


@dataclass(frozen=True)
class Ran:
    """What a `cortex` run left: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cortex(
    socket: Path, *args: str, stdin: str | bytes = b"", env: Mapping[str, str] | None = None
) -> Ran:
    """``cortex ARGS`` in this process against the daemon on `socket`; standard input is
    `stdin` (not a terminal, as in a script); `env` adds or overrides variables."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    out, err = io.StringIO(), io.StringIO()
    given = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    variables = {"CORTEX_SOCKET": str(socket), "COLUMNS": COLUMNS, **(env or {})}
    with (
        _environment(variables),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(given),
        _no_reload_of_this_process(),
    ):
        try:
            status = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors, --help
            code = exit_.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
    return Ran(status, out.getvalue(), err.getvalue())


def _signalled(signum: int, frame: object) -> None:
    raise AssertionError(
        "the CLI sent SIGHUP to this test process: `cortex propose --apply` and `cortex budget"
        " set` signal the daemon's pid, so run them against a real daemon (start_daemon)"
    )


@contextlib.contextmanager
def _no_reload_of_this_process() -> Iterator[None]:
    """An in-process application reports this process's pid; a reload the CLI sends it would
    end the test run. Fail the test instead, saying why."""
    saved = signal.signal(signal.SIGHUP, _signalled)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, saved)


@contextlib.contextmanager
def _stdin(stream: io.TextIOWrapper) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved

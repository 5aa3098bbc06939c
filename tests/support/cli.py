"""Running the `cortex` CLI against a daemon's socket: in this process (its `main()`, with
argv, standard streams and exit status as a shell would give them) or, where the process is
the point, as the installed `cortex` program."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
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
    ):
        try:
            status = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors
            status = exit_.code if isinstance(exit_.code, int) else 1
    return Ran(status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(stream: io.TextIOWrapper) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


def cortex_process(
    socket: Path, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed ``cortex`` program, run against the daemon on `socket`."""
    env = {**os.environ, "CORTEX_SOCKET": str(socket), "COLUMNS": COLUMNS}
    return subprocess.run(
        [CORTEX, *args], env=env, capture_output=True, text=True, timeout=timeout, input=stdin
    )

"""Writing an edit of the routing file for the user: show the diff, write atomically (through
a symlink to its target, keeping the file's mode), and have the running daemon reload."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from cortexd.cli.reload import reload_daemon, wait_for_generation
from cortexd.context.atomic import rewrite
from cortexd.errors import CortexError


def read_routing(path: Path) -> tuple[bytes, str]:
    """The routing file's bytes and text (line endings and BOM as they are)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CortexError(f"cannot read {path}: {error.strerror}") from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CortexError(f"{path} is not UTF-8 text") from None


def confirm(console: Console, question: str, assume_yes: bool) -> bool:
    """Ask on a terminal; --yes goes ahead. Without a terminal there is no one to ask (a
    script, a pipe: ``echo n |`` is not an answer), so the edit is refused unless --yes."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise CortexError(
            "standard input is not a terminal, so there is no one to ask: nothing was "
            "written (add --yes to write without asking)"
        )
    answer = console.input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def write_and_reload(
    console: Console,
    path: Path,
    new: str,
    *,
    was: bytes,
    socket: Path,
    before: dict[str, object] | None,
) -> int:
    """Write `new` over `path` (unless it no longer holds `was`) and reload the daemon;
    the exit status."""
    rewrite(path, new, was=was)  # a routing file kept in a dotfiles repo stays a symlink
    console.print(f"wrote {escape(str(path))}")
    pid = reload_daemon(socket)
    if pid is None or before is None:
        console.print("cortexd is not running; it reads the file when it starts")
        return 0
    state = wait_for_generation(socket, before)
    if state.get("generation") != before.get("generation"):
        console.print(f"cortexd (pid {pid}) serves it now (generation {state['generation']})")
        return 0
    console.print(
        f"[red]cortexd (pid {pid}) kept the previous table:[/]\n{escape(str(state['last_error']))}"
    )
    return 1

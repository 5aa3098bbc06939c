"""``cortex connect CLIENT``: point Claude Code, Codex, Continue, Zed or aider at cortexd's
loopback TCP listener.

It prints the settings; ``--write`` shows the change to the client's settings file as a
diff, asks, and writes it (Claude Code and Codex; the others are print only). Then it checks
that the listener answers with the token. The token itself is never printed: settings name
the token file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cortexd.cli.connect_clients import CLIENTS, Endpoint, SettingsFileError, Setup, setup_for
from cortexd.errors import CortexError

CHECK_TIMEOUT_S = 5.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "connect",
        help="point Claude Code, Codex, Continue, Zed or aider at cortexd's TCP listener",
        description="Print the settings that point CLIENT at cortexd's loopback TCP listener;"
        " --write puts them into its settings file (Claude Code, Codex). Exit 1 when the"
        " listener does not answer.",
    )
    p.add_argument("client", choices=CLIENTS)
    p.add_argument(
        "--write", action="store_true", help="write the settings after showing the change"
    )
    p.add_argument("--yes", "-y", action="store_true", help="write without asking")
    p.add_argument(
        "--routed",
        action="store_true",
        help="let cortexd pick the model (model 'auto'); default: the client's model passes",
    )
    p.set_defaults(run=run)


@dataclass(frozen=True)
class Located:
    """Where the listener is, and a note when that is a guess (the daemon did not say)."""

    endpoint: Endpoint
    note: str | None = None


def locate() -> Located:
    """The listener as the running daemon reports it; else where it would listen (``CORTEX_TCP``
    or the default) with the token file in cortexd's state folder."""
    from cortexd.client import Client
    from cortexd.context.environment import Environment
    from cortexd.context.paths import Paths
    from cortexd.daemon.listener import DEFAULT_TCP, TOKEN_FILE_NAME, tcp_address

    env = Environment.read()
    token_file = Paths.resolve(env).state_dir / TOKEN_FILE_NAME
    guess = Endpoint(tcp_address(None, env.tcp) or DEFAULT_TCP, token_file)
    try:
        with Client() as client:
            health = client.health()
    except CortexError as error:
        return Located(guess, f"{error}; the settings name {guess.address}, where it would listen")
    listener = health.json.get("listener")
    if not isinstance(listener, dict):  # a cortexd from before the listener was reported
        return Located(guess)
    if listener.get("tcp"):
        named = listener.get("token_file")
        return Located(Endpoint(listener["tcp"], Path(named) if named else token_file))
    why = listener.get("error") or "no reason given"
    return Located(
        guess,
        f"cortexd's TCP listener is not listening ({why}); the settings name {guess.address}",
    )


def check_listener(endpoint: Endpoint) -> tuple[bool, str]:
    """Does the listener answer ``GET /v1/health`` with the token? (ok, what to tell)."""
    import httpx2

    path = endpoint.token_file
    token, unreadable = _read_token(path)
    url = f"{endpoint.url}/v1/health"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        # No proxy from the environment: the token is for this machine's listener only.
        with httpx2.Client(timeout=CHECK_TIMEOUT_S, trust_env=False) as http:
            answer = http.get(url, headers=headers)
    except httpx2.ConnectError:
        return False, (
            f"nothing listens on {endpoint.address}; start cortexd (its TCP listener is on"
            " unless --tcp off or CORTEX_TCP=off) and see `cortex health`"
        )
    except httpx2.TimeoutException:
        return False, f"{endpoint.address} accepted but did not answer in {CHECK_TIMEOUT_S:g} s"
    except httpx2.HTTPError as error:
        return False, f"{endpoint.address}: {type(error).__name__}"
    if unreadable:
        return False, f"{endpoint.address} listens, but {unreadable}"
    if answer.status_code == 401:
        return False, (
            f"the listener on {endpoint.address} refused the token in {path}: is that port"
            " another cortexd's (another CORTEX_HOME)?"
        )
    if answer.status_code != 200:
        return False, f"{url} answered HTTP {answer.status_code}"
    return True, f"cortexd answers on {endpoint.address} with the token in {path}"


def _read_token(path: Path) -> tuple[str | None, str | None]:
    """The token in `path`, or None and why it cannot be had."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None, f"there is no token file at {path} (cortexd makes it when TCP starts)"
    except (OSError, UnicodeDecodeError) as error:
        return None, f"the token file {path} cannot be read: {error}"
    if not token:
        return None, f"the token file {path} is empty; restart cortexd to make a new one"
    return token, None


def unified_diff(path: Path, old: str | None, new: str) -> str:
    """The change of `path` as a unified diff (from /dev/null for a new file)."""
    before = (old or "").splitlines(keepends=True)
    lines = difflib.unified_diff(
        before,
        new.splitlines(keepends=True),
        fromfile=str(path) if old is not None else "/dev/null",
        tofile=str(path),
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def ask(question: str) -> bool:
    """Ask on standard input; no answer (end of input) is no."""
    print(f"{question} [y/N] ", end="", flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print()
    return answer.strip().lower() in ("y", "yes")


def write_settings(setup: Setup, assume_yes: bool) -> int:
    """Show the change of the client's settings file, ask, and write it; the exit status."""
    from cortexd.context.atomic import rewrite, write_atomic

    assert setup.path is not None and setup.edit is not None
    path = setup.path
    try:
        raw: bytes | None = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as error:
        raise CortexError(f"cannot read {path}: {error.strerror}") from None
    try:
        old = None if raw is None else raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CortexError(f"{path} is not UTF-8 text; nothing was written") from None
    try:
        new = setup.edit(old)
    except SettingsFileError as error:
        raise CortexError(f"{path}: {error}") from None
    if new == old:
        print(f"\n{path} already has these settings; nothing to write")
        return 0
    print(f"\nThe change to {path}:")
    print(unified_diff(path, old, new), end="")
    if not assume_yes and not ask(f"Write {path}?"):
        print("nothing written")
        return 1
    if raw is None:
        write_atomic(path, new, mode=0o600)  # settings files may come to hold secrets
    else:
        rewrite(path, new, was=raw)  # keeps its mode; a symlinked dotfile stays a link
    print(f"wrote {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    located = locate()
    endpoint = located.endpoint
    setup = setup_for(args.client, endpoint, env=os.environ, home=Path.home(), routed=args.routed)
    if located.note:
        print(f"note: {located.note}", file=sys.stderr)
    print("\n".join(setup.lines))
    status = 0
    if args.write:
        if setup.path is None:
            print(
                f"\ncortex connect {args.client} only prints its settings: "
                f"{setup.why_print_only}. Nothing was written."
            )
        else:
            status = write_settings(setup, args.yes)
            if status == 0:
                for note in setup.notes:
                    print(note)
    ok, message = check_listener(endpoint)
    print(f"\nlistener check: {'ok' if ok else 'FAILED'}: {message}")
    return status if ok else 1

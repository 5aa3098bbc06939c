"""The daemon's life: logging, keys, the socket, the services, the server."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cortexd.context.environment import Environment
from cortexd.context.keys import KeyFileError, read_keys
from cortexd.context.paths import PRIVATE_UMASK, Paths
from cortexd.daemon.listener import (
    TOKEN_FILE_NAME,
    Listener,
    ListenerError,
    format_tcp,
    open_tcp,
    parse_tcp,
    tcp_address,
)
from cortexd.daemon.sd_notify import SystemdNotifier
from cortexd.routing import RoutingTable, TaskModel
from cortexd.services import TcpStatus

if TYPE_CHECKING:
    from starlette.types import ASGIApp

LEDGER_NAME = "ledger.sqlite3"
SWITCH_INTERVAL_S = 0.0005

#: Python levels as syslog priorities, which journald reads from a "<N>" line prefix.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message`` — journald files each line at its level."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 2 if record.levelno > logging.ERROR else 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


def setup_logging(level: str) -> None:
    """Log to stderr: journald's form when stderr is the journal, a timestamped line
    anywhere else (a terminal, a pipe, a file)."""
    handler = logging.StreamHandler(sys.stderr)
    if to_journal(os.environ.get("JOURNAL_STREAM"), sys.stderr):
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx and the SDKs log request URLs at INFO; APScheduler each job's every run; uvicorn
    # its own start-up steps ("Started server process", "Waiting for application startup"),
    # which say nothing a person needs next to "cortexd serving on …".
    noisy = ("httpx", "httpx2", "httpcore", "httpcore2", "anthropic", "openai", "apscheduler")
    for name in (*noisy, "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)


def to_journal(journal_stream: str | None, stream: IO[str]) -> bool:
    """Whether `stream` is systemd's journal: ``$JOURNAL_STREAM`` names its device and
    inode (``DEV:INODE``), which a stream the daemon's stderr was redirected to does not
    have (systemd's documented check; the variable alone is inherited by children)."""
    if not journal_stream:
        return False
    try:
        device, inode = (int(part) for part in journal_stream.split(":"))
        found = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (found.st_dev, found.st_ino) == (device, inode)


def without_httpx_cli(modules: MutableMapping[str, Any]) -> None:
    """Keep httpx's command line out of the daemon.

    The ollama SDK imports httpx, whose ``__init__`` imports its CLI when it can, and with it
    rich, pygments and click: 7 MiB held for the daemon's life by a tool it never runs.
    httpx falls back to a stub when the import fails, and a None in ``sys.modules`` is
    Python's documented way to make it fail.
    """
    modules.setdefault("httpx._main", None)


def run(
    table: RoutingTable,
    routing_path: Path,
    paths: Paths,
    env: Environment,
    args: argparse.Namespace,
    listener: Listener,
    digest: str | None = None,
) -> int:
    """Serve on `listener` until stopped; 1 when the keys cannot be had or the TCP address is
    malformed (a taken port only costs the TCP listener). `digest` is the sha256 of the bytes
    `table` was read from."""
    # Before anything is written: what a library creates for us (SQLite's journal, a log) is
    # the user's alone, whatever umask the shell that started the daemon had.
    os.umask(PRIVATE_UMASK)
    setup_logging(args.log_level)
    # The ledger's writer thread gives up the GIL at each SQLite call and must take it back
    # from a busy event loop; at Python's default 5 ms a commit waited ~28 ms under load.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    without_httpx_cli(sys.modules)
    log = logging.getLogger("cortexd")
    try:
        return _serve(table, routing_path, paths, env, args, listener, log, digest)
    except KeyboardInterrupt:
        # Ctrl-C in a terminal: the server has drained and said "cortexd stopped", then
        # uvicorn raises the signal again for the caller; 128 + SIGINT, as a shell expects,
        # without a traceback.
        return 130
    finally:
        listener.close()  # idempotent: also after a failed start, never leaves the socket


def _serve(
    table: RoutingTable,
    routing_path: Path,
    paths: Paths,
    env: Environment,
    args: argparse.Namespace,
    listener: Listener,
    log: logging.Logger,
    digest: str | None,
) -> int:
    named = args.key_file or env.key_file
    try:
        keys = read_keys(
            os.environ, named or paths.key_file, env.credentials_dir, required=named is not None
        )
    except KeyFileError as error:
        log.error("%s", error)
        return 1
    address = tcp_address(args.tcp, env.tcp)
    try:
        if address is not None:
            parse_tcp(address)  # a malformed or non-loopback address is a mistake: stop
    except ListenerError as error:
        log.error("%s", error)
        return 1
    tcp_status, token = _start_tcp(address, listener, paths.state_dir / TOKEN_FILE_NAME, log)
    # Imported after the socket is bound: the server stack and Starlette take a moment.
    from cortexd.bookkeeping.notices import default_notifier
    from cortexd.daemon.assemble import assemble, services_of
    from cortexd.daemon.server import attach_process, serve
    from cortexd.ledger import Ledger, SchemaError
    from cortexd.services import Limits

    ledger = Ledger(
        paths.state_dir / LEDGER_NAME,
        keep_prompts_days=args.keep_prompts,
        secrets=list(keys.values.values()),
    )
    try:
        ledger.open()
    except (SchemaError, sqlite3.Error, OSError) as error:
        log.error("cannot open the ledger %s: %s", ledger.path, error)
        return 1
    notifier = SystemdNotifier(os.environ)
    app = assemble(
        table,
        routing_path,
        keys,
        ledger=ledger,
        context_dir=paths.context_dir,
        env=os.environ,
        notices=default_notifier(paths.context_dir),
        notifier=notifier,
        task_model=TaskModel.shipped(),
        limits=Limits(max_in_flight=args.max_in_flight, warm_up_budget_s=args.warm_up_budget),
        routing_digest=digest,
        background_after_s=args.background_after,
    )
    log.info(
        "routing file %s: %d task types, %d local rows",
        routing_path,
        len(table.routes),
        len(table.local),
    )
    for provider, source in sorted(keys.sources.items()):
        log.info("%s: key from %s", provider, source)
    for provider in keys.missing():
        log.warning("no API key for %s: its models are skipped", provider)
    services_of(app).listener_info = tcp_status
    attach_process(app, services_of(app), listener, notifier)
    served: ASGIApp = app
    if listener.tcp is not None and token is not None:
        from cortexd.api.tcp_guard import TcpGuard

        port = listener.tcp.getsockname()[1]
        log.info(
            "also listening on %s (TCP, bearer token in %s)",
            tcp_status.address,
            tcp_status.token_file,
        )
        served = TcpGuard(app, token, port)
    serve(served, listener, drain_s=args.drain_seconds)
    return 0


def _start_tcp(
    address: str | None, listener: Listener, token_file: Path, log: logging.Logger
) -> tuple[TcpStatus, str | None]:
    """Open the TCP listener at a valid `address` (None: turned off) with its token.

    The Unix socket is the daemon's own; the TCP listener is a convenience on a fixed port
    that another program may hold, so a port or token file that cannot be had is logged and
    reported in /v1/health, and the daemon serves on without it.
    """
    if address is None:
        return TcpStatus(error="turned off (--tcp off or CORTEX_TCP=off)"), None
    from cortexd.api.tcp_guard import TokenFileError, load_or_create_token

    try:
        token = load_or_create_token(token_file)
    except (TokenFileError, OSError) as error:
        reason = f"the token file cannot be used, so TCP stays off: {error}"
        log.error("%s", reason)
        return TcpStatus(error=reason), None
    try:
        listener.tcp = open_tcp(address)
    except ListenerError as error:
        log.warning("%s", error)
        return TcpStatus(error=str(error)), None
    host, port = listener.tcp.getsockname()[:2]
    return TcpStatus(format_tcp(host, port), token_file), token

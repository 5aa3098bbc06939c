"""The daemon's parts put together into one ASGI application.

`cortexd` serves what `assemble` returns on its socket; the tests drive the very same
application in-process through an ASGI transport. What belongs to the process alone (the
socket, signals, systemd) is added by `cortexd.daemon.server.attach_process`, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.applications import Starlette

from cortexd.api.app import build_app
from cortexd.bookkeeping.notices import Notifier
from cortexd.context.keys import Keys
from cortexd.daemon.lifespan import LATER_S, attach_lifespan
from cortexd.daemon.sd_notify import SystemdNotifier
from cortexd.ledger import Ledger
from cortexd.ledger.report import REPORT_NAME
from cortexd.routing import PriceTable, RoutingTable, TaskModel
from cortexd.services import Limits, Services, build_services


def assemble(
    table: RoutingTable,
    routing_path: Path,
    keys: Keys,
    *,
    ledger: Ledger,
    context_dir: Path,
    env: Mapping[str, str],
    notices: Notifier,
    notifier: SystemdNotifier,
    task_model: TaskModel | None,
    limits: Limits | None = None,
    routing_digest: str | None = None,
    background_after_s: float = LATER_S,
) -> Starlette:
    """The API over services built from these parts, with its start-up and shutdown.

    `ledger` is opened (not started: the application's start-up does that); `env` is where
    the providers read their base URLs and Ollama's address; `context_dir` holds the report,
    inbox/ and captured/. The services are at ``app.state.services``. The background
    services (the inbox, batches, the schedule, the watchers) start `background_after_s`
    after serving begins; 0: before it does.
    """
    services = build_services(
        table,
        routing_path,
        keys,
        env=dict(env),
        task_model=task_model,
        ledger=ledger,
        limits=limits,
        routing_digest=routing_digest,
        # genai-prices' entries for the catalog, kept beside the ledger: never its snapshot.
        prices=PriceTable(ledger.path.parent),
    )
    app = build_app(services)
    attach_lifespan(app, services, context_dir / REPORT_NAME, notices, notifier, background_after_s)
    return app


def services_of(app: Starlette) -> Services:
    """The services an assembled application serves with."""
    services: Services = app.state.services
    return services

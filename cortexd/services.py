"""Everything the API serves with, built once at start-up and passed in (no globals).

The routing table, its router and catalog are swapped together in one assignment on reload,
so a request that started keeps the `Routing` it took; the provider SDKs load in a thread
after the socket is ready, and the first call waits for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cortexd.bookkeeping.recent_outputs import RecentOutputs
from cortexd.bookkeeping.spend import SpendTracker
from cortexd.context.environment import Environment
from cortexd.context.keys import Keys
from cortexd.ledger import AttemptLog, Ledger
from cortexd.local_rows import LocalState
from cortexd.pipeline.hedging import RecentTtfts
from cortexd.pipeline.pins import SessionPins
from cortexd.pipeline.similarity_step import SimilarityStep
from cortexd.routing import (
    WARM_UP_BUDGET_S,
    PriceTable,
    Router,
    RoutingFileError,
    RoutingTable,
    TaskModel,
    catalog_for,
    load_routing_file_with_digest,
)
from cortexd.routing.dispatch import Attempt, Dispatcher, DispatchSettings
from cortexd.routing.providers import ProviderRegistry
from cortexd.routing_generation import Routing

if TYPE_CHECKING:
    from cortexd.hardware import HardwareProfile

log = logging.getLogger("cortexd")


class Jobs(Protocol):
    """The scheduled jobs as the request path sees them (`daemon.schedule.Schedule`): the
    daemon's top layer starts them; what serves only asks for a run or a listing."""

    def run_soon(self, job_id: str) -> None:
        """Run the job now (once more after a run under way)."""

    def as_json(self) -> dict[str, dict[str, object]]:
        """Each job's runs and next run, for the health check."""


@dataclass(frozen=True)
class TcpStatus:
    """What the TCP listener does, for ``GET /v1/health``: where it listens and where its
    token is, or why it is not listening."""

    address: str | None = None  # HOST:PORT as bound
    token_file: Path | None = None
    error: str | None = None

    def as_json(self) -> dict[str, str | None]:
        """The health answer's ``listener`` object."""
        token = None if self.token_file is None else str(self.token_file)
        return {"tcp": self.address, "token_file": token, "error": self.error}


@dataclass(frozen=True)
class Limits:
    """Bounds on what one client can make the daemon do."""

    max_body_bytes: int = 8 * 1024 * 1024
    body_timeout_s: float = 30.0
    max_in_flight: int = 64
    warm_up_budget_s: float = WARM_UP_BUDGET_S  # a cold local model slower to load waits


@dataclass
class Services:
    """The daemon's parts. `routing` is replaced whole on reload."""

    routing: Routing
    routing_path: Path
    keys: Keys
    registry: ProviderRegistry
    dispatcher: Dispatcher
    task_model: TaskModel | None
    ledger: Ledger
    attempt_log: AttemptLog
    spend: SpendTracker
    similarity: SimilarityStep  # the prompt scored against task examples, when it applies
    limits: Limits = Limits()
    started: float = field(default_factory=time.time)
    last_reload_error: str | None = None
    in_flight: int = 0
    schedule: Jobs | None = None  # the scheduled jobs, once the daemon has started them
    routing_digest: str | None = None  # sha256 of the routing file as `routing` was read
    hardware: HardwareProfile | None = None  # the last probe (rerun on a schedule)
    local: LocalState = field(default_factory=LocalState)  # the local rows on that hardware
    # Prompts scored against task examples with the local embedder, before classification.
    warming: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # loads under way
    # Each client's latest answer sizes: a budget reserves what its calls use, not their cap.
    recent_outputs: RecentOutputs = field(default_factory=RecentOutputs)
    # Each model's recent times to first token per task: when a late one is hedged.
    ttfts: RecentTtfts = field(default_factory=RecentTtfts)
    # Where each coding agent's session was answered last: where its next call goes.
    pins: SessionPins = field(default_factory=SessionPins)
    # The loopback TCP listener as the daemon opened it (its address, or why not), for health.
    listener_info: TcpStatus = field(default_factory=TcpStatus)

    def reload(self) -> bool:
        """Validate the routing file, then swap it in; a bad file keeps the old one."""
        try:
            table, digest = load_routing_file_with_digest(self.routing_path)
        except (RoutingFileError, OSError) as error:
            self.reload_failed(error)
            return False
        self.swap(table, digest)
        return True

    def reload_failed(self, error: Exception) -> None:
        """Keep serving the previous table; say why the file was not taken."""
        self.last_reload_error = str(error)
        log.error("routing file not reloaded, the previous one stays: %s", error)

    def swap(self, table: RoutingTable, digest: str | None) -> None:
        """Serve `table` from now on, in one assignment: calls under way keep theirs."""
        generation = self.routing.generation + 1
        self.routing = build_routing(
            table, self.task_model, generation, self.routing.catalog.prices
        )
        self.routing_digest = digest
        # Dispatch resolves names with the new catalog too. The providers stay as built: a
        # new GGUF file, Ollama address or alias base URL takes a restart (docs/operations.md).
        self.dispatcher.catalog = self.routing.catalog
        self.last_reload_error = None
        log.info("routing file reloaded (generation %d): %s", generation, table.source)


def file_digest(path: Path) -> str | None:
    """The sha256 of a file's bytes (None when it cannot be read): a proposal made on one
    version of the routing file is not applied to another."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def build_routing(
    table: RoutingTable,
    task_model: TaskModel | None,
    generation: int,
    prices: PriceTable | None = None,
) -> Routing:
    """The router and catalog for a table (priced from `prices`)."""
    return Routing(table, Router(table, task_model), catalog_for(table, prices), generation)


def build_services(
    table: RoutingTable,
    routing_path: Path,
    keys: Keys,
    *,
    env: dict[str, str],
    task_model: TaskModel | None,
    ledger: Ledger,
    settings: DispatchSettings | None = None,
    limits: Limits | None = None,
    routing_digest: str | None = None,
    prices: PriceTable | None = None,
) -> Services:
    """Wire the daemon's parts together; dispatch's attempts reach the ledger per call.
    `prices` holds genai-prices' entries (kept on disk by a daemon: price_table.py)."""
    prices = prices or PriceTable()
    routing = build_routing(table, task_model, 1, prices)

    def offload(model_id: str) -> int | None:
        return services.local.offload.get(model_id)

    registry = ProviderRegistry(
        keys=keys.values,
        env=env,
        # OLLAMA_HOST wins over the routing file's address, as the ollama SDK's own rule.
        ollama_host=Environment.read(env).ollama_host or table.ollama_host,
        # The provider is asked by model id; the routing file names files by model name.
        gguf_files={s.model_id: s.gguf_path for s in routing.catalog if s.gguf_path},
        responses_models=[s.model_id for s in routing.catalog if s.api.value == "responses"],
        # The layers to put on the GPU come from the latest hardware probe.
        llamacpp_options={"offload": offload},
        prices=prices,
    )

    attempt_log = AttemptLog()  # dispatch's sink: logs attempts, gathers them per call
    # The budgets are read from the routing file being served, which a reload replaces.
    spend = SpendTracker(lambda: services.routing.table.budgets)

    def sink(attempt: Attempt) -> None:
        attempt_log(attempt)
        spend(attempt)
        if attempt.error_class == "ModelLoadError" and services.schedule is not None:
            # A local model failed to load (out of memory?): look at the machine again now.
            services.schedule.run_soon("hardware-probe")

    dispatcher = Dispatcher(
        routing.catalog, registry, sink, settings=settings or DispatchSettings()
    )
    services: Services = Services(
        routing,
        routing_path,
        keys,
        registry,
        dispatcher,
        task_model,
        ledger,
        attempt_log,
        spend,
        SimilarityStep(registry, routing_path),
        limits or Limits(),
        # The digest of the bytes `table` came from; read again only when not given.
        routing_digest=routing_digest or file_digest(routing_path),
    )
    return services

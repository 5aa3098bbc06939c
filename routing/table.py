"""The routing table: the typed content of the user's routing file, after validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from cortexd.routing.errors import Problem
from cortexd.routing.names import loose
from cortexd.routing.prices import Pricing
from cortexd.routing.routing_file.hedging import Hedging

#: The task type a request gets when nothing else decides (DESIGN.md: cloud model sonnet).
DEFAULT_TASK = "General agent work"
EMBEDDINGS_TASK = "Embeddings"


class Mode(StrEnum):
    """The routing file's ``**Mode**:`` line.

    ``Static rules + user override`` (the seed's): the tables decide, a user override in the
    prompt wins, and routing proposals are only ever suggested, never applied.
    ``Static rules``: as above, but override phrases in prompts are ignored (an explicit
    ``model`` in the request still wins) — for scripts whose prompts carry other people's text.
    ``Adaptive``: as the seed's, and the weekly review applies the routing proposals the
    ledger supports by itself (each one logged, announced, and shown by ``cortex propose``).
    """

    STATIC_WITH_OVERRIDE = "static rules + user override"
    STATIC = "static rules"
    ADAPTIVE = "adaptive"


class Toggle(StrEnum):
    """Whether a local-table row is used: ``auto`` follows the hardware probe."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class BudgetPolicy(StrEnum):
    """What happens to a provider's calls once its monthly limit is reached."""

    CONTINUE = "continue"  # keep going, alerts only
    FALLBACK = "fallback"  # send those calls to their fallback model
    LOCAL = "local"  # send them to a local model
    REFUSE = "refuse"  # answer with a clear error


class WorkflowKind(StrEnum):
    """The Coding Workflow scenarios cortexd turns into routing rules."""

    CLAUDE_CODE_CLIENT = "claude-code-client"  # calls from a Claude Code session stay on Claude
    QUEUE = "queue"  # coding tasks dispatched from a queue → the named tool
    REVIEW_OPPOSITE = "review-opposite"  # review by the provider that did not write the code
    INTERACTIVE = "interactive"  # prose only: the Routing Table wins for API calls
    BATCH = "batch"  # batch code generation → the named tool
    TASK = "task"  # a task type of its own (e.g. "Debugging / tracing")


@dataclass(frozen=True)
class Route:
    """A Routing Table row: a task type and its chain (primary first, then fallbacks)."""

    task: str
    chain: tuple[str, ...]
    line: int
    notes: str = ""
    local_only: bool = False
    hedging: bool | None = None  # the row's Hedging cell; None: the file's rule
    #: The row's Batch API cell: a batch's lines of this task go through the provider's
    #: Batch API (half price, within 24 hours) without being asked to.
    provider_batch: bool = False

    @property
    def primary(self) -> str:
        return self.chain[0]


@dataclass(frozen=True)
class LocalRoute:
    """A Local Models row: used while its model fits and is present (or forced on)."""

    task: str
    model: str
    fallback: tuple[str, ...]
    line: int
    toggle: Toggle = Toggle.AUTO


@dataclass(frozen=True)
class ProviderEntry:
    """An Available Providers row, read for the Ollama address and shown to the user."""

    name: str
    models: str
    api: str
    notes: str
    line: int


@dataclass(frozen=True)
class WorkflowRule:
    """A Coding Workflow row that cortexd understood."""

    scenario: str
    kind: WorkflowKind
    models: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class AliasEntry:
    """A Model Aliases row: alias → provider, model id, optional base URL."""

    alias: str
    provider: str
    model_id: str
    line: int
    base_url: str | None = None
    context_window: int | None = None
    pricing: Pricing = "list"  # the Price cell, or the default its base URL's host gives


@dataclass(frozen=True)
class Budget:
    """A Budgets row: a provider's (or the ``total``) monthly limit in USD."""

    scope: str
    monthly_limit: Decimal
    thresholds: tuple[int, ...]
    at_limit: BudgetPolicy
    line: int

    @cached_property
    def limit_pico(self) -> int:
        """The limit in integer pico-dollars, as the ledger counts (asked on every call)."""
        return int((self.monthly_limit * 10**12).to_integral_value())


@dataclass(frozen=True)
class CrossCheck:
    """A Cross-Validation row: this task type gets a second opinion from this model."""

    task: str
    model: str
    line: int


@dataclass(frozen=True)
class RoutingTable:
    """Everything the routing file says, validated. Immutable: a reload builds a new one."""

    source: str
    mode: Mode
    routes: Mapping[str, Route]
    local: Mapping[str, LocalRoute] = field(default_factory=dict)
    providers: tuple[ProviderEntry, ...] = ()
    workflow: tuple[WorkflowRule, ...] = ()
    aliases: tuple[AliasEntry, ...] = ()
    local_files: Mapping[str, Path] = field(default_factory=dict)
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    cross_validation: Mapping[str, CrossCheck] = field(default_factory=dict)
    ollama_host: str | None = None
    warnings: tuple[Problem, ...] = ()
    hedging: Hedging = field(default_factory=Hedging)

    def task_types(self) -> list[str]:
        """Every task type the file defines, Routing Table first, without duplicates."""
        names = list(self.routes)
        names += [t for t in self.local if t not in self.routes]
        names += [r.scenario for r in self.workflow if r.kind is WorkflowKind.TASK]
        if DEFAULT_TASK not in names:
            names.append(DEFAULT_TASK)
        return list(dict.fromkeys(names))

    def find_task(self, name: str) -> str | None:
        """The task type spelled `name` (ignoring case, spaces and punctuation), if defined."""
        return self._task_keys.get(loose(name))

    @cached_property
    def _task_keys(self) -> dict[str, str]:
        # Asked on every request that names its task; the table never changes once built.
        keys: dict[str, str] = {}
        for task in self.task_types():
            keys.setdefault(loose(task), task)
        return keys

    def rule(self, kind: WorkflowKind) -> WorkflowRule | None:
        """The workflow rule of this kind, if the file has one."""
        return next((r for r in self.workflow if r.kind is kind), None)

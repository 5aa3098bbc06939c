"""The router: a pure function from (request, routing table, available models) to a plan.

Precedence (DESIGN.md): explicit model in the request > override phrase in the prompt >
task type given by the client > classified task type > default route. The Coding Workflow
rules then adjust the chain (Claude Code clients stay on Claude, reviews go to the provider
that did not write the code, queue and batch clients get the named tool), an active local
row puts its local model first, and local-only requests keep only local models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cortexd.routing.catalog import Catalog, Provider
from cortexd.routing.classifier.classify import Classification, TaskClassifier
from cortexd.routing.classifier.model import TaskModel
from cortexd.routing.errors import NoRouteError, UnknownModelError, UnknownTaskError
from cortexd.routing.names import loose, nearest
from cortexd.routing.overrides.detector import Override, OverrideDetector, UnknownModel
from cortexd.routing.overrides.directives import read_conversation
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.routing_file.model_rows import RESERVED_NAMES
from cortexd.routing.routing_file.parse import catalog_for
from cortexd.routing.table import DEFAULT_TASK, Mode, RoutingTable, Toggle, WorkflowKind

#: The cloud model of the default route when the file names none (seed: Anthropic is
#: "primary for … general agent work").
DEFAULT_CLOUD_MODEL = "sonnet"
_AUTO = {"", *RESERVED_NAMES}
_CODING_TASKS = {"code generation", "vibe coding (interactive)"}
_REVIEW_TASKS = {"code review"}
#: The model a provider reviews with when the task's chain has none of its models.
_REVIEWER = {"anthropic": "sonnet", "openai": "codex"}


@dataclass(frozen=True)
class Availability:
    """What may serve requests right now.

    `local_models`: local models present and fitting the hardware (from the probe).
    `unavailable`: models that must be skipped, with why (no key, circuit open, …).
    """

    local_models: frozenset[str] = frozenset()
    unavailable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutePlan:
    """Where a request goes and why. `messages` are the request's, minus an override directive."""

    task: str
    chain: tuple[str, ...]
    decided_by: str  # explicit-model | override | task-given | classified | default
    reasons: tuple[str, ...]
    messages: tuple[Message, ...] = ()
    override: Override | None = None
    classification: Classification | None = None
    local_only: bool = False
    skipped: tuple[tuple[str, str], ...] = ()
    #: The user turn (from 1) whose directive decided the model, when one did.
    directive_turn: int | None = None
    #: What the answer's metadata warns of (a directive to a model the catalog lacks).
    warnings: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        return self.chain[0]

    @property
    def fallbacks(self) -> tuple[str, ...]:
        return self.chain[1:]


def plan_route(
    request: RouteRequest,
    table: RoutingTable,
    catalog: Catalog,
    available: Availability,
    classifier: TaskClassifier,
    detector: OverrideDetector,
    similarity: Mapping[str, float] | None = None,
) -> RoutePlan:
    """Decide the task type and the chain of models for one request.

    `similarity`: the task types' similarity to their example prompts
    (classifier/example_vectors.py), weighed in when the task type is classified. Raises
    `UnknownModelError` / `UnknownTaskError` for names the client got wrong and
    `NoRouteError` when nothing may serve it (e.g. local-only without a local model).
    """
    reasons: list[str] = []
    messages = tuple(request.messages)
    model = (request.model or "").strip()
    given_task = request.task
    if model.casefold().startswith("task:"):
        given_task, model = model[5:].strip(), ""

    pinned: str | None = None
    how = ""
    override = None
    turn: int | None = None
    warnings: list[str] = []
    if model.casefold() not in _AUTO:
        spec = catalog.resolve(model)
        if spec is None:
            raise UnknownModelError(model, catalog.suggest(model))
        pinned, how = spec.name, "explicit-model"
        reasons.append(f"explicit model '{model}' in the request: no fallback")
    elif table.mode is Mode.STATIC_WITH_OVERRIDE:
        earlier = tuple(Message("user", text) for text in request.earlier)
        reading = read_conversation((*earlier, *messages), detector)
        if reading.directive is not None:
            directive = reading.directive
            override, turn = directive.override, directive.turn
            pinned, how = override.model, "override"
            reasons.append(directive.reason)
            messages = directive.messages[len(earlier) :] or messages
        elif reading.revoked_at is not None:
            reasons.append(f"session override revoked (turn {reading.revoked_at}): routed")
        if reading.unknown is not None:
            warnings.append(_unknown_warning(reading.unknown, catalog))
            reasons.append(warnings[-1])
    task, decided_by, classification = _task(
        request, given_task, messages, table, classifier, similarity
    )
    reasons.append(_task_reason(decided_by, task, classification))
    decided_by = how or decided_by
    route = table.routes.get(task)
    local_only = request.local_only or bool(route and route.local_only)
    if local_only:
        why = "the request" if request.local_only else f"the '{task}' row"
        reasons.append(f"local-only ({why}): cloud models are left out")

    if pinned is not None:
        spec = catalog.resolve(pinned)
        if local_only and spec is not None and not spec.local:
            raise NoRouteError(f"'{pinned}' is a cloud model, and this request is local-only")
        chain: tuple[str, ...] = (pinned,)
    else:
        chain = _task_chain(task, table, available, reasons)
        chain = _apply_workflow(chain, task, request, table, catalog, reasons)
        if local_only:
            chain = tuple(m for m in chain if (s := catalog.resolve(m)) is not None and s.local)
    forced = frozenset(r.model for r in table.local.values() if r.toggle is Toggle.ON)
    available = replace(available, local_models=available.local_models | forced)
    chain, skipped = _usable(chain, catalog, available, pinned is not None)
    for name, why in skipped:
        reasons.append(f"skipped {name}: {why}")
    if not chain:
        detail = "; ".join(f"{n}: {w}" for n, w in skipped) or "the route names no model"
        if local_only:
            raise NoRouteError(f"'{task}' is local-only and no local model is available ({detail})")
        raise NoRouteError(f"no model can serve '{task}' right now ({detail})")
    return RoutePlan(
        task,
        chain,
        decided_by,
        tuple(reasons),
        messages,
        override,
        classification,
        local_only,
        tuple(skipped),
        turn,
        tuple(warnings),
    )


def _unknown_warning(unknown: UnknownModel, catalog: Catalog) -> str:
    """What the plan and the answer say of a directive to a model the catalog lacks."""
    hint = (
        f"did you mean {unknown.suggestion}?"
        if unknown.suggestion
        else f"the models are {', '.join(catalog.names())}"
    )
    return (
        f"'{unknown.name}' ('{unknown.phrase}') is not a model in the routing file: {hint} "
        "The prompt was routed as written."
    )


def _task(
    request: RouteRequest,
    given: str | None,
    messages: tuple[Message, ...],
    table: RoutingTable,
    classifier: TaskClassifier,
    similarity: Mapping[str, float] | None,
) -> tuple[str, str, Classification | None]:
    if given:
        task = table.find_task(given)
        if task is None:
            raise UnknownTaskError(given, nearest_task(given, table.task_types()))
        return task, "task-given", None
    result = classifier.classify(messages, similarity)
    return result.task, ("classified" if result.task != DEFAULT_TASK else "default"), result


def _task_reason(decided_by: str, task: str, c: Classification | None) -> str:
    if decided_by == "task-given":
        return f"task '{task}' given by the client"
    if c is None:
        return f"task '{task}'"
    if decided_by == "default":
        return f"task '{task}' ({c.reason})"
    return f"task '{task}' classified with confidence {c.confidence:.2f}: {c.reason}"


def _task_chain(
    task: str, table: RoutingTable, available: Availability, reasons: list[str]
) -> tuple[str, ...]:
    route = table.routes.get(task)
    local = table.local.get(task)
    if route is not None:
        chain = route.chain
        reasons.append(f"Routing Table row '{task}' (line {route.line}): {' → '.join(chain)}")
    else:
        rule = next(
            (r for r in table.workflow if r.kind is WorkflowKind.TASK and r.scenario == task), None
        )
        if rule is not None:
            chain = rule.models
            reasons.append(f"Coding Workflow row '{task}' (line {rule.line}): {' → '.join(chain)}")
        elif local is not None:
            chain = local.fallback
            cloud = " → ".join(chain) or "none"
            reasons.append(f"'{task}' has only a local row; its cloud fallback: {cloud}")
        else:
            chain = (DEFAULT_CLOUD_MODEL,)
            reasons.append(f"'{task}' has no row: default cloud model {DEFAULT_CLOUD_MODEL}")
    if local is not None and local.toggle is not Toggle.OFF:
        active = local.toggle is Toggle.ON or local.model in available.local_models
        if active:
            how = "forced on" if local.toggle is Toggle.ON else "fits and is present"
            chain = (local.model, *local.fallback)
            reasons.append(f"local row '{task}' (line {local.line}) {how}: {local.model} first")
        else:
            # Kept in the chain so that the plan says why the local model was skipped.
            chain = (local.model, *chain)
    return tuple(dict.fromkeys(chain))


def _family(name: str, catalog: Catalog) -> str | None:
    spec = catalog.find(name)
    if spec is not None:
        return spec.family
    text = name.casefold()
    if re.search(r"claude|anthropic", text):
        return Provider.ANTHROPIC.value
    if re.search(r"openai|gpt|codex|chatgpt|\bo\d\b", text):
        return Provider.OPENAI.value
    return None


def _apply_workflow(
    chain: tuple[str, ...],
    task: str,
    request: RouteRequest,
    table: RoutingTable,
    catalog: Catalog,
    reasons: list[str],
) -> tuple[str, ...]:
    client = (request.client or "").casefold()
    key = task.casefold()
    rule = table.rule(WorkflowKind.REVIEW_OPPOSITE)
    if rule is not None and request.author and key in _REVIEW_TASKS:
        author = _family(request.author, catalog)
        if author in _REVIEWER:
            other = next(f for f in _REVIEWER if f != author)
            theirs = [m for m in chain if _family(m, catalog) == other] or [_REVIEWER[other]]
            chain = (*theirs, *(m for m in chain if m not in theirs))
            reasons.append(
                f"'{rule.scenario}' (line {rule.line}): code by {author}, "
                f"reviewed by {other} first: {' → '.join(chain)}"
            )
    for kind, pattern in ((WorkflowKind.QUEUE, "queue"), (WorkflowKind.BATCH, "batch")):
        rule = table.rule(kind)
        if rule is not None and pattern in client and key in _CODING_TASKS:
            chain = (*rule.models, *(m for m in chain if m not in rule.models))
            reasons.append(f"'{rule.scenario}' (line {rule.line}): {' → '.join(chain)}")
    rule = table.rule(WorkflowKind.CLAUDE_CODE_CLIENT)
    if rule is not None and re.search(r"claude[-_ ]?(code|cli)", client) and chain:
        # Stay on Claude: keep local models (they never leave the machine) and Claude models,
        # drop the others, and refill from the workflow row's Claude models.
        kept = tuple(m for m in chain if _family(m, catalog) in (Provider.ANTHROPIC.value, "local"))
        cloud = any(_family(m, catalog) != "local" for m in chain)
        chain = tuple(dict.fromkeys((*kept, *(rule.models if cloud else ()))))
        reasons.append(
            f"'{rule.scenario}' (line {rule.line}): a Claude Code client stays on "
            f"Claude: {' → '.join(chain)}"
        )
    return chain


def _usable(
    chain: tuple[str, ...], catalog: Catalog, available: Availability, pinned: bool
) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    kept: list[str] = []
    skipped: list[tuple[str, str]] = []
    for name in chain:
        spec = catalog.resolve(name)
        if name in available.unavailable:
            skipped.append((name, available.unavailable[name]))
        elif spec is not None and spec.local and not pinned and name not in available.local_models:
            skipped.append((name, "local model not present or does not fit this machine"))
        else:
            kept.append(name)
    return tuple(kept), skipped


class Router:
    """A routing table with what planning derives from it, built once per (re)load."""

    def __init__(self, table: RoutingTable, model: TaskModel | None = None) -> None:
        """`model` is the learned task model (TaskModel.shipped()); None classifies by rules."""
        self.table = table
        self.catalog = catalog_for(table)
        self.classifier = TaskClassifier(table.task_types(), model=model)
        self.detector = OverrideDetector(self.catalog)

    def plan(
        self,
        request: RouteRequest,
        available: Availability | None = None,
        similarity: Mapping[str, float] | None = None,
    ) -> RoutePlan:
        """`plan_route` with this table; with no availability, only cloud models are planned.

        `similarity` (task type → similarity of the prompt to its examples) is weighed in
        when the task type is classified."""
        return plan_route(
            request,
            self.table,
            self.catalog,
            available or Availability(),
            self.classifier,
            self.detector,
            similarity,
        )

    def routes_by_class(self, request: RouteRequest) -> bool:
        """Whether the plan's route hangs on classification: no model named, no task type
        given, no override in the prompt. Only then is a similarity step worth its time."""
        model = (request.model or "").strip()
        given = model[5:].strip() if model.casefold().startswith("task:") else request.task
        if given or model.casefold() not in _AUTO and not model.casefold().startswith("task:"):
            return False
        if self.table.mode is Mode.STATIC_WITH_OVERRIDE:
            earlier = tuple(Message("user", text) for text in request.earlier)
            return read_conversation((*earlier, *request.messages), self.detector).directive is None
        return True


def nearest_task(name: str, tasks: list[str]) -> str | None:
    """The task type `name` was likely meant to be. Task types are long: a typo in the first
    word ("Debuging") still deserves a hint."""
    key = loose(name)
    prefixed = [t for t in tasks if key and (loose(t).startswith(key) or key.startswith(loose(t)))]
    if prefixed:
        return prefixed[0]
    first_words = {t.split()[0]: t for t in tasks if t.split()}
    hit = nearest(name.split()[0], first_words, cutoff=0.7) if name.split() else None
    return first_words[hit] if hit else nearest(name, tasks, cutoff=0.5)

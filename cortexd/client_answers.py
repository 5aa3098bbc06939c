"""The daemon's answers to requests as typed objects, for the client library
(`cortexd.client`): chat answers and their stream, embeddings, a captured note, a plan
(``/v1/route``) and health.

A script reads ``answer.text`` and ``answer.cortex.model`` instead of digging through
``answer["choices"][0]["message"]["content"]``. Plain frozen dataclasses, built from the JSON
by hand: the CLI imports these, and pydantic would add about 90 ms to every ``cortex``
command. Each keeps the whole answer as `json`, for fields not modelled here and for
``--json`` output. The ledger's answers are in `cortexd.client_calls` and
`cortexd.client_spend`, the daemon's set-up in `cortexd.client_admin`, its background work
in `cortexd.client_batches`.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cortexd.client_json import Json, objects, opt_str, texts, usd


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(i.get("model")), str(i.get("reason"))) for i in items or ())


@dataclass(frozen=True)
class Usage:
    """Tokens in and out, as the answer's ``usage`` says."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @classmethod
    def from_json(cls, data: Json | None) -> Usage | None:
        """None when the answer has no usage (a stream's chunks before the last)."""
        if not data:
            return None
        return cls(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0))


@dataclass(frozen=True)
class CallInfo:
    """What cortexd adds to an answer (its ``cortex`` object): the call's id (for ``cortex
    why`` and ``cortex rate``), the task type, who answered and why, what it cost."""

    id: str | None = None
    task: str | None = None
    decided_by: str | None = None
    model: str | None = None
    provider: str | None = None
    fallback: bool = False
    fallback_reason: str | None = None
    cost_usd: Decimal | None = None  # None: the price of a model tried is unknown
    warnings: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (model, why) passed over before any try
    attempts: tuple[Json, ...] = ()
    second_opinion: Json | None = None
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> CallInfo:
        """The ``cortex`` object of an answer."""
        return cls(
            id=data.get("id"),
            task=data.get("task"),
            decided_by=data.get("decided_by"),
            model=data.get("model"),
            provider=data.get("provider"),
            fallback=bool(data.get("fallback")),
            fallback_reason=data.get("fallback_reason"),
            cost_usd=usd(data.get("cost_usd")),
            warnings=texts(data.get("warnings")),
            skipped=_pairs(data.get("skipped")),
            attempts=objects(data.get("attempts")),
            second_opinion=data.get("second_opinion"),
            json=data,
        )


@dataclass(frozen=True)
class ChatAnswer:
    """A whole chat answer: its text, why it stopped, its usage and cortexd's account."""

    id: str
    model: str
    text: str
    finish_reason: str | None
    usage: Usage | None
    cortex: CallInfo
    tool_calls: tuple[Json, ...] = ()
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> ChatAnswer:
        """A Chat Completions answer with its ``cortex`` object."""
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        return cls(
            id=str(data.get("id", "")),
            model=str(data.get("model", "")),
            text=message.get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage.from_json(data.get("usage")),
            cortex=CallInfo.from_json(data.get("cortex") or {}),
            tool_calls=objects(message.get("tool_calls")),
            json=data,
        )


@dataclass(frozen=True)
class ChatChunk:
    """One event of a streamed answer: a piece of its text; the last ones carry the finish
    reason, the usage and cortexd's account (`cortex`, None before)."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    cortex: CallInfo | None
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> ChatChunk:
        """A Chat Completions stream chunk."""
        choice = (data.get("choices") or [{}])[0]
        block = data.get("cortex")
        return cls(
            text=(choice.get("delta") or {}).get("content") or "",
            finish_reason=choice.get("finish_reason"),
            usage=Usage.from_json(data.get("usage")),
            cortex=None if block is None else CallInfo.from_json(block),
            json=data,
        )


def _vector(value: Any) -> tuple[float, ...]:
    """An embedding as floats, or as little-endian float32 in base64
    (``encoding_format: base64``).

    >>> _vector([1.0, 0.5]), _vector("AACAPw==")
    ((1.0, 0.5), (1.0,))
    """
    if isinstance(value, str):
        raw = base64.b64decode(value)
        return struct.unpack(f"<{len(raw) // 4}f", raw)
    return tuple(float(v) for v in value or ())


@dataclass(frozen=True)
class Embeddings:
    """``POST /v1/embeddings``: one vector per input, in order, the concrete model id that
    made them, and the tokens read."""

    model: str
    vectors: tuple[tuple[float, ...], ...]
    prompt_tokens: int
    json: Json = field(default_factory=dict, repr=False)

    @property
    def dimensions(self) -> int:
        """How long each vector is (0 without any)."""
        return len(self.vectors[0]) if self.vectors else 0

    @classmethod
    def from_json(cls, data: Json) -> Embeddings:
        """OpenAI's embeddings list; base64 vectors are decoded."""
        items = sorted(data.get("data") or (), key=lambda d: int(d.get("index") or 0))
        usage = data.get("usage") or {}
        return cls(
            model=str(data.get("model", "")),
            vectors=tuple(_vector(d.get("embedding")) for d in items),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            json=data,
        )


@dataclass(frozen=True)
class Captured:
    """A note filed (``POST /v1/capture``, ``cortex capture``): where it went, its title,
    category (the folder under ``captured/``), tags and summary, and the model that filed
    it."""

    path: str
    title: str
    category: str
    tags: tuple[str, ...]
    summary: str | None
    model: str | None
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Captured:
        """The capture answer."""
        return cls(
            path=str(data.get("path", "")),
            title=str(data.get("title", "")),
            category=str(data.get("category", "")),
            tags=texts(data.get("tags")),
            summary=opt_str(data.get("summary")),
            model=opt_str(data.get("model")),
            json=data,
        )


@dataclass(frozen=True)
class Directive:
    """The person's override the plan followed ("use opus for this") and the turn it is in."""

    model: str
    phrase: str
    scope: str
    turn: int | None


@dataclass(frozen=True)
class Plan:
    """Where a request would go and why (``POST /v1/route``, ``cortex route``)."""

    task: str
    decided_by: str
    chain: tuple[str, ...]
    local_only: bool
    override: Directive | None
    classification: Json | None  # task, confidence, reason: when the task was classified
    warnings: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    reasons: tuple[str, ...]
    json: Json = field(default_factory=dict, repr=False)

    @property
    def primary(self) -> str | None:
        """The model tried first."""
        return self.chain[0] if self.chain else None

    @classmethod
    def from_json(cls, data: Json) -> Plan:
        """The plan as `cortexd.plans.plan_to_json` writes it."""
        found = data.get("override")
        override = None
        if found:
            override = Directive(found["model"], found["phrase"], found["scope"], found.get("turn"))
        return cls(
            task=str(data.get("task", "")),
            decided_by=str(data.get("decided_by", "")),
            chain=texts(data.get("chain")),
            local_only=bool(data.get("local_only")),
            override=override,
            classification=data.get("classification"),
            warnings=texts(data.get("warnings")),
            skipped=_pairs(data.get("skipped")),
            reasons=texts(data.get("reasons")),
            json=data,
        )


@dataclass(frozen=True)
class RoutingFileState:
    """The routing file being served: where, which generation, and the last reload's error
    (None when the file on disk is the one served)."""

    path: str
    generation: int
    last_error: str | None


@dataclass(frozen=True)
class Health:
    """``GET /v1/health``: the daemon's version, process, routing file and keys; the rest
    (providers, circuits, budgets, local rows, jobs, the listener) is in `json`."""

    status: str
    version: str
    pid: int
    uptime_s: float
    routing_file: RoutingFileState
    keys_missing: tuple[str, ...]
    sdks_loaded: tuple[str, ...]
    background_started: bool
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Health:
        """The health answer."""
        routing = data.get("routing_file") or {}
        return cls(
            status=str(data.get("status", "")),
            version=str(data.get("version", "")),
            pid=int(data.get("pid") or 0),
            uptime_s=float(data.get("uptime_s") or 0.0),
            routing_file=RoutingFileState(
                str(routing.get("path", "")),
                int(routing.get("generation") or 0),
                routing.get("last_error"),
            ),
            keys_missing=texts(data.get("keys_missing")),
            sdks_loaded=texts(data.get("sdks_loaded")),
            background_started=bool(data.get("background_started")),
            json=data,
        )

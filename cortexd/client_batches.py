"""The daemon's background work as typed objects, for the client library: batches
(``/v1/cortex/batches``: an estimate, a batch's progress, the latest batches) and the coding
queue (``/v1/cortex/queue``).

The JSON is `cortexd.api.batch_routes`' and `cortexd.batch.journal`'s; a batch's money is
the float the journal gives. Each object keeps its JSON as `json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from cortexd.client_json import Json, opt_float, opt_str, texts


@dataclass(frozen=True)
class BatchProblem:
    """A line of a batch file that will fail (reported in the output, never sent)."""

    line: int
    error: str


@dataclass(frozen=True)
class BatchEstimate:
    """What a batch would cost (``POST /v1/cortex/batches/estimate``): its lines, how many
    go to each model, the lines that will fail, the budgets it would pass, and the sends at
    once per provider it would run with."""

    cost_usd: float  # lines to models with no known price are not in it
    lines: int
    per_model: Mapping[str, int]
    per_provider_usd: Mapping[str, float]
    unpriced_lines: int
    problems: tuple[BatchProblem, ...]
    over_budget: tuple[str, ...]  # each budget it would pass, said in words
    concurrency: int | None
    provider_batch: bool  # priced at the providers' Batch APIs' prices where they take it
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> BatchEstimate:
        """The estimate answer."""
        concurrency = data.get("concurrency")
        return cls(
            cost_usd=float(data.get("cost_usd") or 0.0),
            lines=int(data.get("lines") or 0),
            per_model={str(m): int(n) for m, n in (data.get("per_model") or {}).items()},
            per_provider_usd={
                str(p): float(c) for p, c in (data.get("per_provider_usd") or {}).items()
            },
            unpriced_lines=int(data.get("unpriced_lines") or 0),
            problems=tuple(
                BatchProblem(int(p.get("line") or 0), str(p.get("error", "")))
                for p in data.get("problems") or ()
            ),
            over_budget=texts(data.get("over_budget")),
            concurrency=None if concurrency is None else int(concurrency),
            provider_batch=bool(data.get("provider_batch")),
            json=data,
        )


@dataclass(frozen=True)
class ProviderBatch:
    """Lines of a batch sent through a provider's Batch API: the provider's batch id (None
    until it took them), how many requests, its state and the provider's own status."""

    key: str
    provider: str
    state: str
    provider_batch_id: str | None
    requests: int
    status: str | None
    note: str | None


@dataclass(frozen=True)
class Batch:
    """A batch the daemon runs (``cortex batch status``): its files and state, its lines
    counted (answered, failed, in flight, waiting on the providers' batches, sent again
    after a stop), its tokens and spend."""

    id: str
    created_at: float  # Unix time
    input: str
    output: str
    state: str  # running, done, cancelled, failed, …
    total: int
    options: Json  # concurrency, provider_batch, retry_failed, poll_s
    written: int  # result lines written to the output
    out_bytes: int
    finished_at: float | None
    note: str | None
    done: int
    failed: int  # of which `invalid` were never sent
    invalid: int
    running: int
    pending: int
    submitted: int  # waiting on the providers' batches
    resent: int  # sent again after a stop (each may be billed twice)
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced: int  # lines answered by a model with no known price
    provider_batches: tuple[ProviderBatch, ...]
    json: Json = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        """Whether the batch has ended (done, cancelled, failed)."""
        return self.state != "running"

    @classmethod
    def from_json(cls, data: Json) -> Batch:
        """A batch's summary."""
        return cls(
            id=str(data.get("id", "")),
            created_at=float(data.get("created_at") or 0.0),
            input=str(data.get("input", "")),
            output=str(data.get("output", "")),
            state=str(data.get("state", "")),
            total=int(data.get("total") or 0),
            options=data.get("options") or {},
            written=int(data.get("written") or 0),
            out_bytes=int(data.get("out_bytes") or 0),
            finished_at=opt_float(data.get("finished_at")),
            note=opt_str(data.get("note")),
            done=int(data.get("done") or 0),
            failed=int(data.get("failed") or 0),
            invalid=int(data.get("invalid") or 0),
            running=int(data.get("running") or 0),
            pending=int(data.get("pending") or 0),
            submitted=int(data.get("submitted") or 0),
            resent=int(data.get("resent") or 0),
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            cost_usd=float(data.get("cost_usd") or 0.0),
            unpriced=int(data.get("unpriced") or 0),
            provider_batches=tuple(
                ProviderBatch(
                    str(p.get("key", "")),
                    str(p.get("provider", "")),
                    str(p.get("state", "")),
                    opt_str(p.get("provider_batch_id")),
                    int(p.get("requests") or 0),
                    opt_str(p.get("status")),
                    opt_str(p.get("note")),
                )
                for p in data.get("provider_batches") or ()
            ),
            json=data,
        )


@dataclass(frozen=True)
class BatchList:
    """The latest batches, newest first (``GET /v1/cortex/batches``)."""

    batches: tuple[Batch, ...]
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> BatchList:
        """The list answer."""
        return cls(tuple(Batch.from_json(b) for b in data.get("batches") or ()), data)


@dataclass(frozen=True)
class QueuedTask:
    """A coding task put on the queue (``cortex queue add``): its file in `folder`."""

    name: str
    folder: str
    json: Json = field(default_factory=dict, repr=False)

    @property
    def answer_file(self) -> str:
        """Where its answer will be filed: ``FOLDER/done/NAME.answer.md``."""
        return f"{self.folder}/done/{PurePath(self.name).stem}.answer.md"

    @classmethod
    def from_json(cls, data: Json) -> QueuedTask:
        """The answer of ``POST /v1/cortex/queue``."""
        return cls(str(data.get("name", "")), str(data.get("folder", "")), data)


@dataclass(frozen=True)
class QueueListing:
    """The coding queue (``cortex queue``): its folder and its tasks by file name."""

    folder: str
    pending: tuple[str, ...]
    running: tuple[str, ...]
    done: tuple[str, ...]
    failed: tuple[str, ...]
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> QueueListing:
        """The answer of ``GET /v1/cortex/queue``."""
        return cls(
            str(data.get("folder", "")),
            texts(data.get("pending")),
            texts(data.get("running")),
            texts(data.get("done")),
            texts(data.get("failed")),
            data,
        )

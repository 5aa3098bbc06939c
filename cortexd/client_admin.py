"""What the daemon runs with, as typed objects for the client library: the machine and its
Local Models rows (``GET /v1/hardware``), the model catalog (``GET /v1/models``), and the
routing changes the ledger supports (``GET /v1/proposals``, ``POST /v1/proposals/reject``).

The JSON is `cortexd.hardware`'s profile, `cortexd.models_json`'s rows and
`cortexd.api.proposal_routes`'; each object keeps it as `json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from cortexd.client_json import Json, opt_int, opt_str, texts, usd


@dataclass(frozen=True)
class GpuProcess:
    """A process holding GPU memory (`used_bytes` None where the driver will not say)."""

    pid: int
    used_bytes: int | None


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as NVML reported it."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int
    utilization_pct: int | None
    compute_capability: str | None  # "8.9"
    processes: tuple[GpuProcess, ...]

    @classmethod
    def from_json(cls, data: Json) -> GpuInfo:
        """One of ``gpus``."""
        return cls(
            index=int(data.get("index") or 0),
            name=str(data.get("name", "")),
            total_bytes=int(data.get("total_bytes") or 0),
            free_bytes=int(data.get("free_bytes") or 0),
            utilization_pct=opt_int(data.get("utilization_pct")),
            compute_capability=opt_str(data.get("compute_capability")),
            processes=tuple(
                GpuProcess(int(p.get("pid") or 0), opt_int(p.get("used_bytes")))
                for p in data.get("processes") or ()
            ),
        )


@dataclass(frozen=True)
class AppleChip:
    """An Apple Silicon Mac: its chip, the unified memory its GPU shares, its cores."""

    chip: str
    memory_bytes: int
    performance_cores: int | None
    efficiency_cores: int | None


@dataclass(frozen=True)
class LocalRow:
    """One Local Models row of the routing file: whether it routes on this machine now and
    why (or why not); `place` is where an active row runs (GPU, CPU, …)."""

    task: str
    model: str
    active: bool
    why: str
    place: str | None
    gpu_layers: int | None


@dataclass(frozen=True)
class Hardware:
    """The machine as last probed (``GET /v1/hardware``, ``cortex hardware``): CPU, RAM, GPUs
    (and why there is none usable: `gpu_note`), Apple Silicon, and the Local Models rows
    (None where the machine was probed without the daemon, which alone decides them)."""

    probed_at: float  # Unix time
    cpu_cores: int
    cpu_threads: int
    ram_total_bytes: int
    ram_available_bytes: int
    gpus: tuple[GpuInfo, ...]
    driver_version: str | None
    cuda_version: str | None
    apple: AppleChip | None
    gpu_note: str | None
    local_rows: tuple[LocalRow, ...] | None
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Hardware:
        """The hardware answer (or `cortexd.hardware.HardwareProfile.as_json`)."""
        apple, rows = data.get("apple"), data.get("local_rows")
        return cls(
            probed_at=float(data.get("probed_at") or 0.0),
            cpu_cores=int(data.get("cpu_cores") or 0),
            cpu_threads=int(data.get("cpu_threads") or 0),
            ram_total_bytes=int(data.get("ram_total_bytes") or 0),
            ram_available_bytes=int(data.get("ram_available_bytes") or 0),
            gpus=tuple(GpuInfo.from_json(g) for g in data.get("gpus") or ()),
            driver_version=opt_str(data.get("driver_version")),
            cuda_version=opt_str(data.get("cuda_version")),
            apple=None
            if not apple
            else AppleChip(
                str(apple.get("chip", "")),
                int(apple.get("memory_bytes") or 0),
                opt_int(apple.get("performance_cores")),
                opt_int(apple.get("efficiency_cores")),
            ),
            gpu_note=opt_str(data.get("gpu_note")),
            local_rows=None
            if rows is None
            else tuple(
                LocalRow(
                    str(r.get("task", "")),
                    str(r.get("model", "")),
                    bool(r.get("active")),
                    str(r.get("why", "")),
                    opt_str(r.get("place")),
                    opt_int(r.get("gpu_layers")),
                )
                for r in rows
            ),
            json=data,
        )


@dataclass(frozen=True)
class CatalogModel:
    """A model of the catalog (``cortex models``): its alias, provider and id, its context
    window, and its price per million tokens (None: unknown, never 0)."""

    alias: str
    provider: str
    model_id: str
    api: str | None
    context_window: int | None
    input_usd_per_mtok: Decimal | None
    output_usd_per_mtok: Decimal | None
    price_source: str | None
    base_url: str | None  # with any secret in it redacted
    gguf_path: str | None
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> CatalogModel:
        """A catalog row (`cortexd.models_json.model_row`)."""
        return cls(
            alias=str(data.get("alias", "")),
            provider=str(data.get("provider", "")),
            model_id=str(data.get("model_id", "")),
            api=opt_str(data.get("api")),
            context_window=opt_int(data.get("context_window")),
            input_usd_per_mtok=usd(data.get("input_usd_per_mtok")),
            output_usd_per_mtok=usd(data.get("output_usd_per_mtok")),
            price_source=opt_str(data.get("price_source")),
            base_url=opt_str(data.get("base_url")),
            gguf_path=opt_str(data.get("gguf_path")),
            json=data,
        )


@dataclass(frozen=True)
class ModelEntry:
    """An entry of OpenAI's model list as the daemon gives it: ``auto``, a catalog alias (with
    its `catalog` row) or a ``task:`` route (with the `endpoint` it serves on)."""

    id: str
    owned_by: str
    catalog: CatalogModel | None
    endpoint: str | None


@dataclass(frozen=True)
class ModelList:
    """``GET /v1/models``: every entry, in the daemon's order."""

    data: tuple[ModelEntry, ...]
    json: Json = field(default_factory=dict, repr=False)

    @property
    def catalog(self) -> tuple[CatalogModel, ...]:
        """The catalog's models (the entries that are aliases)."""
        return tuple(e.catalog for e in self.data if e.catalog is not None)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every name a request may give as its model."""
        return tuple(e.id for e in self.data)

    @classmethod
    def from_json(cls, data: Json) -> ModelList:
        """The model list."""
        entries = tuple(
            ModelEntry(
                str(m.get("id", "")),
                str(m.get("owned_by", "")),
                None if "cortex" not in m else CatalogModel.from_json(m["cortex"]),
                opt_str(m.get("endpoint")),
            )
            for m in data.get("data") or ()
        )
        return cls(entries, data)


@dataclass(frozen=True)
class CellEdit:
    """One cell of the routing file a proposal rewrites: in `section`, the row whose first
    cell reads `row`, the column `column`, from `old` to `new`."""

    section: str
    row: str
    column: str
    old: str
    new: str


@dataclass(frozen=True)
class Proposal:
    """A routing change the ledger supports (``cortex propose``): its number as listed, its
    id, what kind, the task type, a line for people, the evidence behind it and the cells
    it changes (none: advice only, to make by hand)."""

    number: int
    id: str
    key: str
    kind: str  # swap, failing-primary, override, local
    task: str
    summary: str
    evidence: tuple[str, ...]
    calls: int  # the calls behind it
    changes: tuple[CellEdit, ...]
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Proposal:
        """One of ``proposals``."""
        return cls(
            number=int(data.get("number") or 0),
            id=str(data.get("id", "")),
            key=str(data.get("key", "")),
            kind=str(data.get("kind", "")),
            task=str(data.get("task", "")),
            summary=str(data.get("summary", "")),
            evidence=texts(data.get("evidence")),
            calls=int(data.get("calls") or 0),
            changes=tuple(
                CellEdit(
                    str(c.get("section", "")),
                    str(c.get("row", "")),
                    str(c.get("column", "")),
                    str(c.get("old", "")),
                    str(c.get("new", "")),
                )
                for c in data.get("changes") or ()
            ),
            json=data,
        )


@dataclass(frozen=True)
class PendingProposal:
    """A change the ledger leans towards but does not support yet: about how many more
    calls it needs."""

    key: str
    task: str
    summary: str
    needs_calls: int


@dataclass(frozen=True)
class Proposals:
    """``GET /v1/proposals``: the proposals for the routing file (`digest` is the SHA-256 of
    the file they were made on), the pending ones, the routing `mode`, and how many `days`
    of calls the evidence covers."""

    routing_file: str
    digest: str
    mode: str
    days: int
    proposals: tuple[Proposal, ...]
    pending: tuple[PendingProposal, ...]
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Proposals:
        """The proposals answer."""
        return cls(
            routing_file=str(data.get("routing_file", "")),
            digest=str(data.get("digest", "")),
            mode=str(data.get("mode", "")),
            days=int(data.get("days") or 0),
            proposals=tuple(Proposal.from_json(p) for p in data.get("proposals") or ()),
            pending=tuple(
                PendingProposal(
                    str(p.get("key", "")),
                    str(p.get("task", "")),
                    str(p.get("summary", "")),
                    int(p.get("needs_calls") or 0),
                )
                for p in data.get("pending") or ()
            ),
            json=data,
        )


@dataclass(frozen=True)
class Rejected:
    """``POST /v1/proposals/reject``'s answer: the proposal set aside (its `id` and `key`)
    and the calls behind it; it comes back only on new evidence."""

    id: str
    key: str
    calls: int
    json: Json = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Json) -> Rejected:
        """The reject answer (the JSON's ``rejected`` is `id`)."""
        return cls(
            str(data.get("rejected", "")),
            str(data.get("key", "")),
            int(data.get("calls") or 0),
            data,
        )

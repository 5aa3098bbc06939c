"""Which Local Models rows are active on this machine now, and why the others are not.

A row is active when it is forced ``on``, or — ``auto`` — when its backend has the model
(Ollama reachable and the model pulled, or the GGUF file present) and the model fits the
probed hardware. Models that run at once must fit together: with room for only some, rows
are ranked by how much they serve — the number of task types whose row names the model,
then the smaller model first (it leaves room for more) — and taken greedily.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cortexd.hardware import Fit, HardwareProfile, Need, Place, fit
from cortexd.routing import (
    Catalog,
    ModelSpec,
    Provider,
    RoutingTable,
    Toggle,
    gguf_need,
    known_need,
    ollama_name,
    size_need,
)

log = logging.getLogger("cortexd.local")

#: What an Ollama server has pulled (name → size in bytes), or why it cannot say.
Pulled = Callable[[ModelSpec], Awaitable[Mapping[str, int]]]


@dataclass(frozen=True)
class RowState:
    """One Local Models row: whether it routes now, and why (or why not)."""

    task: str
    model: str
    active: bool
    why: str
    place: str | None = None
    gpu_layers: int | None = None


@dataclass(frozen=True)
class LocalState:
    """The rows' states and the set of local models that may serve; `offload` is how many
    layers of each GGUF model (by model id) go to the GPU on this machine."""

    rows: tuple[RowState, ...] = ()
    offload: Mapping[str, int] = field(default_factory=dict)

    @property
    def active_models(self) -> frozenset[str]:
        return frozenset(r.model for r in self.rows if r.active)


async def _presence(
    spec: ModelSpec, pulled: Pulled, seen: dict[str | None, Mapping[str, int] | str]
) -> tuple[Need | None, str | None]:
    """What the model needs if its backend has it; else why it cannot run."""
    if spec.provider is Provider.LLAMACPP:
        path = spec.gguf_path
        if path is None or not Path(path).is_file():
            return None, f"no GGUF file for {spec.name} (## Local Model Files)"
        try:
            return await asyncio.to_thread(gguf_need, Path(path)), None
        except (OSError, ValueError, KeyError) as error:
            return None, f"cannot read {path}: {error}"
    if spec.base_url not in seen:
        try:
            seen[spec.base_url] = await pulled(spec)
        except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
            seen[spec.base_url] = f"Ollama is not reachable ({type(error).__name__})"
    listing = seen[spec.base_url]
    if isinstance(listing, str):
        return None, listing
    size = listing.get(ollama_name(spec.model_id)) or listing.get(spec.model_id)
    if size is None:
        return None, f"Ollama has not pulled {spec.model_id} (ollama pull {spec.model_id})"
    return size_need(size) if size else known_need(spec.model_id), None


async def assess(
    table: RoutingTable, catalog: Catalog, profile: HardwareProfile, pulled: Pulled
) -> LocalState:
    """Every Local Models row's state on `profile`."""
    seen: dict[str | None, Mapping[str, int] | str] = {}
    needs: dict[str, Need] = {}
    missing: dict[str, str] = {}
    gguf_ids: dict[str, str] = {}
    for row in table.local.values():
        spec = catalog.resolve(row.model)
        if spec is None or row.model in needs or row.model in missing:
            continue
        need, why = await _presence(spec, pulled, seen)
        if need is None:
            missing[row.model] = why or "unknown"
        else:
            needs[row.model] = need
            if spec.provider is Provider.LLAMACPP:
                gguf_ids[row.model] = spec.model_id
    uses = {m: sum(r.model == m for r in table.local.values()) for m in needs}
    order = sorted(needs, key=lambda m: (-uses[m], needs[m].total_bytes))
    fits: dict[str, Fit] = {}
    left = profile
    for model in order:
        found = fit(needs[model], left)
        fits[model] = found
        if found.place is not None:
            left = _take(left, needs[model], found)
    rows = []
    for row in table.local.values():
        if row.toggle is Toggle.OFF:
            rows.append(RowState(row.task, row.model, False, "off in the routing file"))
        elif row.toggle is Toggle.ON:
            rows.append(RowState(row.task, row.model, True, "forced on in the routing file"))
        elif row.model in missing:
            rows.append(RowState(row.task, row.model, False, missing[row.model]))
        else:
            found = fits[row.model]
            alone = fit(needs[row.model], profile)
            why = found.why
            if found.place is None and alone.place is not None:
                why = "fits alone, but the models of busier rows take the memory first"
            place = found.place.value if found.place is not None else None
            rows.append(
                RowState(row.task, row.model, found.place is not None, why, place, found.gpu_layers)
            )
    # llama.cpp is told the layers of the plan; a model that fits nowhere keeps its default
    # (all layers) and steps down by itself if that fails to load.
    offload = {
        gguf_ids[m]: found.gpu_layers
        for m, found in fits.items()
        if m in gguf_ids and found.gpu_layers is not None
    }
    return LocalState(tuple(rows), offload)


def _take(profile: HardwareProfile, need: Need, where: Fit) -> HardwareProfile:
    """The profile with `need` taken out of where it was placed."""
    total = need.total_bytes
    if where.place is Place.CPU:
        return replace(profile, ram_available_bytes=profile.ram_available_bytes - total)
    if where.place is Place.UNIFIED:
        return replace(profile, ram_available_bytes=profile.ram_available_bytes - total)
    best = max(profile.gpus, key=lambda g: g.free_bytes)
    share = total
    if need.layers and where.gpu_layers is not None and where.gpu_layers < need.layers:
        share = total * where.gpu_layers // need.layers  # the layers offloaded, pro rata
    gpus = tuple(
        replace(g, free_bytes=max(0, g.free_bytes - share)) if g is best else g
        for g in profile.gpus
    )
    return replace(profile, gpus=gpus)

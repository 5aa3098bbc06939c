"""One pure question: does a model needing this much memory fit this machine — on a GPU,
in Apple Silicon's unified memory, or on the CPU — and how many layers go to the GPU.

It knows nothing of providers: `routing/` says what a model needs (its weights, its KV
cache at the configured context, its layers); this module answers from the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cortexd.hardware.profile import HardwareProfile

GIB = 1024**3
MIB = 1024**2
#: What a runtime needs beyond weights and KV cache (compute graph, CUDA context,
#: scratch buffers): a tenth of the weights, at least 512 MiB — Ollama's estimates land
#: in the same range for 1–14 B models.
OVERHEAD_SHARE = 0.10
OVERHEAD_MIN = 512 * MIB
#: Memory kept free for everything else the machine runs (a browser, the desktop).
HEADROOM = 1 * GIB
#: Apple lets the GPU use about two thirds of unified memory up to 36 GiB, three quarters
#: above (Metal's recommendedMaxWorkingSetSize).
APPLE_GPU_SHARE_SMALL = 2 / 3
APPLE_GPU_SHARE_LARGE = 3 / 4
#: Models whose weights are at most this run well enough on a CPU (nomic-embed-text's
#: 0.3 GB, a 1–3 B chat model at 4 bits); larger ones need a GPU or unified memory.
CPU_MAX_WEIGHTS = 2 * GIB


class Place(StrEnum):
    """Where a model runs."""

    GPU = "gpu"
    UNIFIED = "unified memory"
    CPU = "cpu"


@dataclass(frozen=True)
class Need:
    """What a model needs: its weights, its KV cache at the context it will run with, and
    (for GGUF files) its layer count, for partial offload."""

    weights_bytes: int
    kv_cache_bytes: int = 0
    layers: int | None = None

    @property
    def total_bytes(self) -> int:
        overhead = max(OVERHEAD_MIN, int(self.weights_bytes * OVERHEAD_SHARE))
        return self.weights_bytes + self.kv_cache_bytes + overhead


@dataclass(frozen=True)
class Fit:
    """The answer: where the model runs (None: nowhere) and why, in words for the user;
    `gpu_layers` is how many layers to offload (all of them on a GPU that holds the model,
    some on one that holds part, 0 on the CPU)."""

    place: Place | None
    why: str
    gpu_layers: int | None = None


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def fit(need: Need, profile: HardwareProfile) -> Fit:
    """Where a model needing `need` runs on `profile`, best first: the GPU with the most free
    memory, Apple's unified memory, partly on a GPU, or the CPU for small models."""
    total = need.total_bytes
    free = profile.gpu_free_bytes
    if profile.gpus and free >= total + HEADROOM:
        return Fit(Place.GPU, f"fits the GPU: needs {_gib(total)}, {_gib(free)} free", need.layers)
    if profile.apple is not None:
        memory = profile.apple.memory_bytes
        share = APPLE_GPU_SHARE_LARGE if memory > 36 * GIB else APPLE_GPU_SHARE_SMALL
        usable = min(int(memory * share), profile.ram_available_bytes) - HEADROOM
        if total <= usable:
            why = f"fits unified memory: needs {_gib(total)}, {_gib(usable)} usable"
            return Fit(Place.UNIFIED, why, need.layers)
    layers = offload_layers(need, free) if profile.gpus else 0
    ram = profile.ram_available_bytes - HEADROOM
    small = need.weights_bytes <= CPU_MAX_WEIGHTS
    # Split between GPU and CPU, as Ollama does, when at least half the layers go on the GPU:
    # fewer, and the CPU's share sets the pace anyway.
    if need.layers and layers * 2 >= need.layers and total <= ram + free:
        why = (
            f"{layers} of {need.layers} layers on the GPU ({_gib(free)} free), the rest on the CPU"
        )
        return Fit(Place.GPU, why, layers)
    if small and total <= ram:
        return Fit(
            Place.CPU, f"small enough for the CPU: needs {_gib(total)}, {_gib(ram)} free RAM", 0
        )
    if not small:
        gpu = profile.gpu_note or f"the GPU has {_gib(free)} free"
        return Fit(None, f"needs {_gib(total)} on a GPU or unified memory; {gpu}")
    return Fit(None, f"needs {_gib(total)}, only {_gib(max(ram, 0))} of RAM is free")


def offload_layers(need: Need, free_bytes: int) -> int:
    """How many of a model's layers fit in `free_bytes` of GPU memory (0 without layer
    counts), keeping room for the KV cache, the runtime and the headroom.

    >>> offload_layers(Need(weights_bytes=32 * GIB, layers=32), 10 * GIB)
    8
    """
    if not need.layers:
        return 0
    per_layer = need.weights_bytes / need.layers
    room = free_bytes - HEADROOM - need.kv_cache_bytes - max(OVERHEAD_MIN, int(per_layer))
    return max(0, min(need.layers, int(room // per_layer)))

"""What the machine has, as one frozen, typed profile: GPUs, Apple Silicon, CPU and RAM.

Every field the probe could not learn says why (``gpu_note``); nothing here is optional
because something failed silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class GpuProcess:
    """A process holding GPU memory."""

    pid: int
    used_bytes: int | None  # None where the driver will not say (some containers)


@dataclass(frozen=True)
class Gpu:
    """One NVIDIA GPU as NVML reports it."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int
    utilization_pct: int | None
    compute_capability: tuple[int, int] | None
    processes: tuple[GpuProcess, ...] = ()


@dataclass(frozen=True)
class AppleSilicon:
    """An Apple Silicon Mac: its chip and the unified memory the GPU shares with the CPU."""

    chip: str
    memory_bytes: int
    performance_cores: int | None
    efficiency_cores: int | None


@dataclass(frozen=True)
class HardwareProfile:
    """The machine, as probed at `probed_at` (Unix time)."""

    probed_at: float
    cpu_cores: int  # physical, else logical
    cpu_threads: int
    ram_total_bytes: int
    ram_available_bytes: int
    gpus: tuple[Gpu, ...] = ()
    driver_version: str | None = None
    cuda_version: str | None = None
    apple: AppleSilicon | None = None
    gpu_note: str | None = None  # why there is no usable GPU, when there is none

    @property
    def gpu_free_bytes(self) -> int:
        """Free memory of the GPU with the most of it (a model is loaded onto one GPU)."""
        return max((g.free_bytes for g in self.gpus), default=0)

    def as_json(self) -> dict[str, Any]:
        """The profile as JSON-ready data (``GET /v1/hardware``)."""
        out = asdict(self)
        for gpu in out["gpus"]:
            cc = gpu["compute_capability"]
            gpu["compute_capability"] = None if cc is None else f"{cc[0]}.{cc[1]}"
        return out

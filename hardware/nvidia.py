"""NVIDIA GPUs through NVML (the `pynvml` module of the `nvidia-ml-py` package).

The module is passed in, so tests hand a fake one. Every way NVML can fail — no library,
no driver, a driver and library of different versions, no permission, a GPU that fell off
the bus — becomes a sentence saying why there is no GPU, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from cortexd.hardware.profile import Gpu, GpuProcess

#: NVML's error classes by name, and what each means for the user.
_WHY = {
    "NVMLError_LibraryNotFound": "the NVIDIA driver's NVML library is not installed",
    "NVMLError_DriverNotLoaded": "the NVIDIA driver is not loaded",
    "NVMLError_LibRmVersionMismatch": "the NVIDIA driver and its library differ in version "
    "(a driver update waiting for a reboot?)",
    "NVMLError_NoPermission": "no permission to query the NVIDIA driver",
    "NVMLError_GpuIsLost": "a GPU fell off the bus",
}


@dataclass(frozen=True)
class NvidiaReport:
    """What NVML said: the GPUs, the versions, or why there are none."""

    gpus: tuple[Gpu, ...] = ()
    driver_version: str | None = None
    cuda_version: str | None = None
    note: str | None = None


def _why(error: BaseException) -> str:
    for cls in type(error).__mro__:
        if cls.__name__ in _WHY:
            return _WHY[cls.__name__]
    return f"NVML failed: {error}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional(nvml: ModuleType, call: Any, *args: Any) -> Any:
    """A value some GPUs or drivers do not report: None instead of an error."""
    try:
        return call(*args)
    except nvml.NVMLError:
        return None


@dataclass(frozen=True)
class NoNvml:
    """Why NVML cannot be asked, found before importing `pynvml` (see `load_nvml`)."""

    note: str


#: The sentence for a machine without the driver's NVML library.
NO_LIBRARY = f"no NVIDIA GPU: {_WHY['NVMLError_LibraryNotFound']}"
#: The sentence for an install without nvidia-ml-py.
NOT_INSTALLED = "nvidia-ml-py is not installed"


def probe_nvidia(nvml: ModuleType | NoNvml | None) -> NvidiaReport:
    """Every NVIDIA GPU with its memory, use, compute capability and processes."""
    if nvml is None:
        return NvidiaReport(note=NOT_INSTALLED)
    if isinstance(nvml, NoNvml):
        return NvidiaReport(note=nvml.note)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as error:
        return NvidiaReport(note=f"no NVIDIA GPU: {_why(error)}")
    try:
        count = nvml.nvmlDeviceGetCount()
        gpus = tuple(_gpu(nvml, i) for i in range(count))
        driver = _optional(nvml, nvml.nvmlSystemGetDriverVersion)
        cuda = _optional(nvml, nvml.nvmlSystemGetCudaDriverVersion)
    except nvml.NVMLError as error:
        return NvidiaReport(note=f"no NVIDIA GPU: {_why(error)}")
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass  # nothing left to release
    if not gpus:
        return NvidiaReport(note="no NVIDIA GPU: the driver reports none")
    return NvidiaReport(
        gpus,
        None if driver is None else _text(driver),
        None if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}",
    )


def _gpu(nvml: ModuleType, index: int) -> Gpu:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    use = _optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
    capability = _optional(nvml, nvml.nvmlDeviceGetCudaComputeCapability, handle)
    running = _optional(nvml, nvml.nvmlDeviceGetComputeRunningProcesses, handle) or ()
    return Gpu(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        total_bytes=int(memory.total),
        free_bytes=int(memory.free),
        utilization_pct=None if use is None else int(use.gpu),
        compute_capability=None if capability is None else (capability[0], capability[1]),
        processes=tuple(
            GpuProcess(int(p.pid), _memory(getattr(p, "usedGpuMemory", None))) for p in running
        ),
    )


def _memory(value: Any) -> int | None:
    # NVML says "not available" with a sentinel (2**64 - 1) rather than None.
    if value is None or int(value) >= 2**63:
        return None
    return int(value)

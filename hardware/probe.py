"""The probe: NVML, sysctl and psutil together into one `HardwareProfile`.

Each source is passed in (the NVML module, the sysctl runner, the platform, the clock), so
the probe runs the same in tests with fakes as on a machine with a GPU.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from types import ModuleType

import psutil

from cortexd.hardware.apple import Sysctl, probe_apple, run_sysctl
from cortexd.hardware.nvidia import probe_nvidia
from cortexd.hardware.profile import HardwareProfile


def load_nvml() -> ModuleType | None:
    """The `pynvml` module of nvidia-ml-py, or None when it is not installed."""
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None


def probe(
    *,
    nvml: ModuleType | None,
    platform: str = sys.platform,
    sysctl: Sysctl = run_sysctl,
    clock: Callable[[], float] = time.time,
) -> HardwareProfile:
    """Probe the machine now. Blocking (NVML and sysctl): run it in a thread."""
    apple = probe_apple(platform, sysctl)
    nvidia = probe_nvidia(nvml) if platform != "darwin" else None
    memory = psutil.virtual_memory()
    threads = psutil.cpu_count(logical=True) or 1
    note = None
    if apple is None and (nvidia is None or not nvidia.gpus):
        note = nvidia.note if nvidia is not None else "an Intel Mac: no GPU for local models"
    return HardwareProfile(
        probed_at=clock(),
        cpu_cores=psutil.cpu_count(logical=False) or threads,
        cpu_threads=threads,
        ram_total_bytes=int(memory.total),
        ram_available_bytes=int(memory.available),
        gpus=nvidia.gpus if nvidia is not None else (),
        driver_version=nvidia.driver_version if nvidia is not None else None,
        cuda_version=nvidia.cuda_version if nvidia is not None else None,
        apple=apple,
        gpu_note=note,
    )

"""The probe: NVML, sysctl and psutil together into one `HardwareProfile`.

Each source is passed in (the NVML module, the sysctl runner, the platform, the clock), so
the probe runs the same in tests with fakes as on a machine with a GPU.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
import time
from collections.abc import Callable
from types import ModuleType

import psutil

from cortexd.hardware.apple import Sysctl, probe_apple, run_sysctl
from cortexd.hardware.nvidia import NO_LIBRARY, NOT_INSTALLED, NoNvml, probe_nvidia
from cortexd.hardware.profile import HardwareProfile

#: The library NVIDIA's Linux driver installs, which `pynvml` opens.
NVML_LIBRARY = "libnvidia-ml.so.1"


def load_nvml(
    platform: str = sys.platform, open_library: Callable[[str], object] = ctypes.CDLL
) -> ModuleType | NoNvml:
    """The `pynvml` module of nvidia-ml-py, or why NVML cannot be asked.

    `pynvml` is imported only where it can work: on Linux, when the driver's library opens.
    It is one module of 2.8 MiB that a daemon would otherwise hold for its whole life on
    every machine without an NVIDIA GPU (a Mac included), to be told there is none.
    """
    if platform == "darwin":
        return NoNvml("macOS: no NVIDIA driver")
    if platform.startswith("linux"):
        try:
            open_library(NVML_LIBRARY)
        except OSError:
            return NoNvml(NO_LIBRARY)
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return NoNvml(NOT_INSTALLED)


def probe(
    *,
    nvml: ModuleType | NoNvml | None,
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

"""The hardware probe (NVML, Apple ``sysctl``, psutil) and one pure capacity question: does
a model needing this much memory fit this machine, and where.

The names below are the package's public surface; the modules behind them may change.
"""

from __future__ import annotations

from cortexd.hardware.apple import probe_apple, run_sysctl
from cortexd.hardware.capacity import Fit, Need, Place, fit, offload_layers
from cortexd.hardware.nvidia import NoNvml, NvidiaReport, probe_nvidia
from cortexd.hardware.probe import load_nvml, probe
from cortexd.hardware.profile import AppleSilicon, Gpu, GpuProcess, HardwareProfile

__all__ = [
    "AppleSilicon",
    "Fit",
    "Gpu",
    "GpuProcess",
    "HardwareProfile",
    "Need",
    "NoNvml",
    "NvidiaReport",
    "Place",
    "fit",
    "load_nvml",
    "offload_layers",
    "probe",
    "probe_apple",
    "probe_nvidia",
    "run_sysctl",
]

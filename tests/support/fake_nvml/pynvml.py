"""A stand-in for nvidia-ml-py's `pynvml`, for a daemon started with this folder first on its
PYTHONPATH (the process boundary: the daemon imports `pynvml` as it would on a GPU machine).

The GPUs come from ``FAKE_NVML_GPUS``: a JSON list of ``{"name", "total", "free"}`` in bytes.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801 - pynvml's own name
    pass


def _gpus() -> list[dict[str, Any]]:
    return list(json.loads(os.environ.get("FAKE_NVML_GPUS", "[]")))


def nvmlInit() -> None:  # noqa: N802 - pynvml's own names from here on
    if "FAKE_NVML_GPUS" not in os.environ:
        raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")


def nvmlShutdown() -> None:  # noqa: N802
    pass


def nvmlDeviceGetCount() -> int:  # noqa: N802
    return len(_gpus())


def nvmlDeviceGetHandleByIndex(index: int) -> int:  # noqa: N802
    return index


def nvmlDeviceGetName(handle: int) -> str:  # noqa: N802
    return str(_gpus()[handle]["name"])


def nvmlDeviceGetMemoryInfo(handle: int) -> SimpleNamespace:  # noqa: N802
    gpu = _gpus()[handle]
    return SimpleNamespace(total=gpu["total"], free=gpu["free"], used=gpu["total"] - gpu["free"])


def nvmlDeviceGetUtilizationRates(handle: int) -> SimpleNamespace:  # noqa: N802
    return SimpleNamespace(gpu=0, memory=0)


def nvmlDeviceGetCudaComputeCapability(handle: int) -> tuple[int, int]:  # noqa: N802
    return (8, 9)


def nvmlDeviceGetComputeRunningProcesses(handle: int) -> list[Any]:  # noqa: N802
    return []


def nvmlSystemGetDriverVersion() -> str:  # noqa: N802
    return "550.54.15"


def nvmlSystemGetCudaDriverVersion() -> int:  # noqa: N802
    return 12040

"""The fake NVML at the process boundary: `tests/support/fake_nvml/pynvml.py` first on the
child's path, and a stand-in for the driver's ``libnvidia-ml.so.1`` where the loader looks,
since the probe imports pynvml only where that library opens (`load_nvml`)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FAKE_NVML = Path(__file__).parent / "fake_nvml"


def _a_loadable_library() -> Path:
    """A shared library this process has loaded (libm: Python links it): it opens
    anywhere, and nothing calls into it under the other name."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            path = line.split()[-1]
            if "/libm.so" in path or "/libm-" in path:
                return Path(path)
    raise RuntimeError("no libm mapped in this process")


def fake_nvml_env(gpus: list[dict[str, Any]], *path: Path) -> dict[str, str]:
    """Environment for a child process that sees `gpus` through NVML (`path`: more entries
    for its PYTHONPATH, after the fake pynvml)."""
    folder = Path(tempfile.mkdtemp(prefix="cxnvml"))
    (folder / "libnvidia-ml.so.1").symlink_to(_a_loadable_library())
    library_path = os.pathsep.join(
        p for p in (str(folder), os.environ.get("LD_LIBRARY_PATH", "")) if p
    )
    return {
        "PYTHONPATH": os.pathsep.join(str(p) for p in (FAKE_NVML, *path)),
        "FAKE_NVML_GPUS": json.dumps(gpus),
        "LD_LIBRARY_PATH": library_path,
    }

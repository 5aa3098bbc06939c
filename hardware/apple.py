"""Apple Silicon through ``sysctl``: the chip, its unified memory, and its core kinds.

``sysctl`` is run through a function passed in, so tests hand canned output; on Linux and
on Intel Macs the answer is None with no error.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from cortexd.hardware.profile import AppleSilicon

KEYS = (
    "machdep.cpu.brand_string",
    "hw.memsize",
    "hw.optional.arm64",
    "hw.perflevel0.physicalcpu",
    "hw.perflevel1.physicalcpu",
)

Sysctl = Callable[[tuple[str, ...]], str]


def run_sysctl(keys: tuple[str, ...]) -> str:
    """``sysctl`` of the keys, ``name: value`` lines; keys it does not know are left out."""
    done = subprocess.run(["sysctl", *keys], capture_output=True, text=True, timeout=5, check=False)
    return done.stdout


def parse(output: str) -> dict[str, str]:
    """``name: value`` lines as a dict.

    >>> parse("hw.memsize: 17179869184\\nhw.optional.arm64: 1\\n")
    {'hw.memsize': '17179869184', 'hw.optional.arm64': '1'}
    """
    found = {}
    for line in output.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip()] = value.strip()
    return found


def probe_apple(platform: str, sysctl: Sysctl = run_sysctl) -> AppleSilicon | None:
    """The Apple Silicon chip of this Mac, or None (not a Mac, an Intel Mac, no answer)."""
    if platform != "darwin":
        return None
    try:
        values = parse(sysctl(KEYS))
    except (OSError, subprocess.SubprocessError):
        return None
    if values.get("hw.optional.arm64") != "1" or not values.get("hw.memsize", "").isdigit():
        return None

    def cores(key: str) -> int | None:
        text = values.get(key, "")
        return int(text) if text.isdigit() else None

    return AppleSilicon(
        chip=values.get("machdep.cpu.brand_string") or "Apple Silicon",
        memory_bytes=int(values["hw.memsize"]),
        performance_cores=cores("hw.perflevel0.physicalcpu"),
        efficiency_cores=cores("hw.perflevel1.physicalcpu"),
    )

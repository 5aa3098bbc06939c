"""The hardware probe against a fake NVML module and canned sysctl output, and the capacity
question table-driven. The real NVML library is absent here, which the probe must say."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.app import App
from support.cli import cortex

from cortexd.hardware import (
    AppleSilicon,
    Gpu,
    HardwareProfile,
    Need,
    NoNvml,
    Place,
    fit,
    load_nvml,
    probe,
    probe_apple,
    probe_nvidia,
)
from cortexd.hardware.capacity import GIB, MIB

# --- a fake pynvml ------------------------------------------------------------------------


class NVMLError(Exception):
    pass


ERRORS = {
    name: type(name, (NVMLError,), {})
    for name in (
        "NVMLError_LibraryNotFound",
        "NVMLError_DriverNotLoaded",
        "NVMLError_LibRmVersionMismatch",
        "NVMLError_NoPermission",
        "NVMLError_GpuIsLost",
        "NVMLError_NotSupported",
    )
}


def fake_nvml(gpus: list[dict[str, Any]], fail: dict[str, str] | None = None) -> Any:
    """A pynvml stand-in: `gpus` as NVML would describe them; `fail` maps a function name
    to the NVML error class it raises."""
    fail = fail or {}
    calls: list[str] = []

    def call(name: str, value: Any) -> Any:
        def run(*args: Any) -> Any:
            calls.append(name)
            if name in fail:
                raise ERRORS[fail[name]]("failed")
            return value(*args) if callable(value) else value

        return run

    def gpu(handle: int) -> dict[str, Any]:
        return gpus[handle]

    return SimpleNamespace(
        NVMLError=NVMLError,
        **ERRORS,
        calls=calls,
        nvmlInit=call("nvmlInit", None),
        nvmlShutdown=call("nvmlShutdown", None),
        nvmlDeviceGetCount=call("nvmlDeviceGetCount", len(gpus)),
        nvmlDeviceGetHandleByIndex=call("nvmlDeviceGetHandleByIndex", lambda i: i),
        nvmlDeviceGetName=call("nvmlDeviceGetName", lambda h: gpu(h)["name"].encode()),
        nvmlDeviceGetMemoryInfo=call(
            "nvmlDeviceGetMemoryInfo",
            lambda h: SimpleNamespace(total=gpu(h)["total"], free=gpu(h)["free"]),
        ),
        nvmlDeviceGetUtilizationRates=call(
            "nvmlDeviceGetUtilizationRates", lambda h: SimpleNamespace(gpu=gpu(h)["util"])
        ),
        nvmlDeviceGetCudaComputeCapability=call(
            "nvmlDeviceGetCudaComputeCapability", lambda h: gpu(h)["cc"]
        ),
        nvmlDeviceGetComputeRunningProcesses=call(
            "nvmlDeviceGetComputeRunningProcesses",
            lambda h: [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in gpu(h)["procs"]],
        ),
        nvmlSystemGetDriverVersion=call("nvmlSystemGetDriverVersion", "550.54.15"),
        nvmlSystemGetCudaDriverVersion=call("nvmlSystemGetCudaDriverVersion", 12040),
    )


H100 = {"name": "NVIDIA H100", "total": 80 * GIB, "free": 70 * GIB, "util": 12, "cc": (9, 0),
        "procs": [(4242, 9 * GIB), (77, 2**64 - 1)]}  # fmt: skip
RTX = {"name": "NVIDIA GeForce RTX 4060", "total": 8 * GIB, "free": 3 * GIB, "util": 0,
       "cc": (8, 9), "procs": []}  # fmt: skip


def test_one_gpu_is_described_whole() -> None:
    nvml = fake_nvml([H100])
    report = probe_nvidia(nvml)
    (gpu,) = report.gpus
    assert (gpu.name, gpu.total_bytes, gpu.free_bytes) == ("NVIDIA H100", 80 * GIB, 70 * GIB)
    assert (gpu.utilization_pct, gpu.compute_capability) == (12, (9, 0))
    assert [(p.pid, p.used_bytes) for p in gpu.processes] == [(4242, 9 * GIB), (77, None)]
    assert (report.driver_version, report.cuda_version, report.note) == ("550.54.15", "12.4", None)
    assert nvml.calls[0] == "nvmlInit" and nvml.calls[-1] == "nvmlShutdown"


def test_several_gpus_and_the_one_with_most_free_memory() -> None:
    profile = probe(nvml=fake_nvml([RTX, H100]), platform="linux")
    assert [g.name for g in profile.gpus] == ["NVIDIA GeForce RTX 4060", "NVIDIA H100"]
    assert profile.gpu_free_bytes == 70 * GIB and profile.gpu_note is None


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("NVMLError_LibraryNotFound", "NVML library is not installed"),
        ("NVMLError_DriverNotLoaded", "driver is not loaded"),
        ("NVMLError_LibRmVersionMismatch", "differ in version"),
        ("NVMLError_NoPermission", "no permission"),
    ],
)
def test_nvml_failing_to_start_is_a_reason_not_a_crash(error: str, says: str) -> None:
    profile = probe(nvml=fake_nvml([H100], {"nvmlInit": error}), platform="linux")
    assert profile.gpus == () and profile.gpu_note is not None and says in profile.gpu_note


@pytest.mark.parametrize(
    "call",
    ["nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName",
     "nvmlDeviceGetMemoryInfo"],
)  # fmt: skip
def test_a_required_call_failing_means_no_gpu_and_nvml_is_shut_down(call: str) -> None:
    nvml = fake_nvml([H100], {call: "NVMLError_GpuIsLost"})
    report = probe_nvidia(nvml)
    assert report.gpus == () and report.note == "no NVIDIA GPU: a GPU fell off the bus"
    assert nvml.calls[-1] == "nvmlShutdown"


@pytest.mark.parametrize(
    "call",
    ["nvmlDeviceGetUtilizationRates", "nvmlDeviceGetCudaComputeCapability",
     "nvmlDeviceGetComputeRunningProcesses", "nvmlSystemGetDriverVersion",
     "nvmlSystemGetCudaDriverVersion"],
)  # fmt: skip
def test_an_optional_value_failing_is_left_unknown(call: str) -> None:
    report = probe_nvidia(fake_nvml([H100], {call: "NVMLError_NotSupported"}))
    (gpu,) = report.gpus
    assert gpu.free_bytes == 70 * GIB
    unknown = {
        "nvmlDeviceGetUtilizationRates": gpu.utilization_pct,
        "nvmlDeviceGetCudaComputeCapability": gpu.compute_capability,
        "nvmlDeviceGetComputeRunningProcesses": gpu.processes or None,
        "nvmlSystemGetDriverVersion": report.driver_version,
        "nvmlSystemGetCudaDriverVersion": report.cuda_version,
    }
    assert unknown[call] is None


def test_no_gpus_and_no_library_are_said() -> None:
    assert probe_nvidia(fake_nvml([])).note == "no NVIDIA GPU: the driver reports none"
    assert probe_nvidia(None).note == "nvidia-ml-py is not installed"


def test_pynvml_is_imported_only_where_the_drivers_library_opens() -> None:
    opened: list[str] = []

    def absent(name: str) -> object:
        opened.append(name)
        raise OSError(f"{name}: cannot open shared object file")

    assert load_nvml("linux", absent) == NoNvml(
        "no NVIDIA GPU: the NVIDIA driver's NVML library is not installed"
    )
    assert opened == ["libnvidia-ml.so.1"]  # the name pynvml itself opens
    assert load_nvml("darwin", absent) == NoNvml("macOS: no NVIDIA driver")
    assert opened == ["libnvidia-ml.so.1"]  # a Mac is not asked
    found = load_nvml("linux", lambda name: object())
    assert not isinstance(found, NoNvml) and found.__name__ == "pynvml"
    assert probe_nvidia(NoNvml("why")).note == "why"


def test_this_machine_has_no_nvml_and_says_so() -> None:
    profile = probe(nvml=load_nvml())
    assert profile.gpus == ()
    assert profile.gpu_note == "no NVIDIA GPU: the NVIDIA driver's NVML library is not installed"
    assert profile.ram_total_bytes > profile.ram_available_bytes > 0
    assert profile.cpu_threads >= profile.cpu_cores >= 1
    assert profile.as_json()["gpu_note"] == profile.gpu_note


# --- Apple Silicon ------------------------------------------------------------------------

M3_MAX = """machdep.cpu.brand_string: Apple M3 Max
hw.memsize: 68719476736
hw.optional.arm64: 1
hw.perflevel0.physicalcpu: 12
hw.perflevel1.physicalcpu: 4
"""
INTEL = """machdep.cpu.brand_string: Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz
hw.memsize: 34359738368
"""


def test_apple_silicon_from_sysctl() -> None:
    chip = probe_apple("darwin", lambda keys: M3_MAX)
    assert chip == AppleSilicon("Apple M3 Max", 64 * GIB, 12, 4)
    profile = probe(nvml=fake_nvml([H100]), platform="darwin", sysctl=lambda keys: M3_MAX)
    assert profile.apple == chip and profile.gpus == () and profile.gpu_note is None


def test_an_intel_mac_a_failing_sysctl_and_linux_have_no_apple_silicon() -> None:
    assert probe_apple("darwin", lambda keys: INTEL) is None
    assert probe_apple("linux", lambda keys: M3_MAX) is None

    def broken(keys: tuple[str, ...]) -> str:
        raise OSError("no sysctl")

    assert probe_apple("darwin", broken) is None
    profile = probe(nvml=None, platform="darwin", sysctl=lambda keys: INTEL)
    assert profile.gpu_note == "an Intel Mac: no GPU for local models"


# --- capacity -----------------------------------------------------------------------------


def machine(
    *, gpu_free: int | None = None, ram_free: int = 12 * GIB, apple: int | None = None
) -> HardwareProfile:
    gpus = () if gpu_free is None else (Gpu(0, "GPU", 24 * GIB, gpu_free, 0, (8, 9)),)
    chip = None if apple is None else AppleSilicon("Apple M2", apple, 8, 4)
    return HardwareProfile(0.0, 8, 16, 32 * GIB, ram_free, gpus, apple=chip,
                           gpu_note=None if gpus or chip else "no NVIDIA GPU: none")  # fmt: skip


LLAMA_8B = Need(weights_bytes=4_700 * MIB, kv_cache_bytes=1 * GIB, layers=32)
NOMIC = Need(weights_bytes=274 * MIB, layers=12)
QWEN_14B = Need(weights_bytes=9 * GIB, kv_cache_bytes=2 * GIB, layers=48)


@pytest.mark.parametrize(
    ("need", "profile", "place", "layers", "why"),
    [
        (LLAMA_8B, machine(gpu_free=20 * GIB), Place.GPU, 32, "fits the GPU"),
        (LLAMA_8B, machine(), None, None, "on a GPU or unified memory; no NVIDIA GPU: none"),
        (LLAMA_8B, machine(apple=16 * GIB), Place.UNIFIED, 32, "fits unified memory"),
        (QWEN_14B, machine(apple=16 * GIB), None, None, "on a GPU or unified memory"),
        (QWEN_14B, machine(apple=64 * GIB, ram_free=40 * GIB), Place.UNIFIED, 48, "unified"),
        (NOMIC, machine(), Place.CPU, 0, "small enough for the CPU"),
        (NOMIC, machine(ram_free=1 * GIB), None, None, "of RAM is free"),
        (QWEN_14B, machine(gpu_free=9 * GIB), Place.GPU, 29, "29 of 48 layers on the GPU"),
        (QWEN_14B, machine(gpu_free=4 * GIB), None, None, "the GPU has 4.0 GiB free"),
    ],
)
def test_capacity(
    need: Need, profile: HardwareProfile, place: Place | None, layers: int | None, why: str
) -> None:
    found = fit(need, profile)
    assert (found.place, found.gpu_layers) == (place, layers), found.why
    assert why in found.why


def test_more_free_memory_moves_a_model_whole_onto_the_gpu() -> None:
    tight = machine(gpu_free=5 * GIB)
    assert fit(LLAMA_8B, tight).gpu_layers == 17  # split: 17 of 32 layers on the GPU
    roomy = replace(tight, gpus=(replace(tight.gpus[0], free_bytes=12 * GIB),))
    assert fit(LLAMA_8B, roomy).gpu_layers == 32
    full = replace(tight, gpus=(replace(tight.gpus[0], free_bytes=2 * GIB),))
    assert fit(LLAMA_8B, full).place is None  # too few layers would fit: not worth it


# --- through the application and the CLI -------------------------------------------------------


def test_the_daemon_serves_its_probe_and_reprobes_on_a_schedule(app: App) -> None:
    daemon = app
    found = daemon.client().get("/v1/hardware").json()
    assert found["gpus"] == [] and "NVML library is not installed" in found["gpu_note"]
    assert found["ram_total_bytes"] > 0 and found["cpu_threads"] >= 1
    jobs = daemon.client().get("/v1/health").json()["jobs"]
    assert "hardware-probe" in jobs and jobs["hardware-probe"]["next_run"] is not None
    shown = cortex(daemon.socket, "hardware")
    assert shown.returncode == 0 and "probed by cortexd" in shown.stdout
    assert "no NVIDIA GPU" in shown.stdout


def test_without_a_daemon_cortex_hardware_probes_from_here(tmp_path: Path) -> None:
    shown = cortex(tmp_path / "none.sock", "hardware", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["gpus"] == [] and data["gpu_note"].startswith("no NVIDIA GPU")

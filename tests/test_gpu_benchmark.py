"""`python -m benchmarks.gpu`'s CPU steps, run here as the issue asks: the probe (step 1)
against the fake NVML module, and the out-of-memory step-down (step 5) against the stand-in
worker, both at the process boundary, as on a machine with a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.nvml import fake_nvml_env

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = ROOT / "tests" / "support" / "fake_gpu_worker" / "worker.py"
H100 = {"name": "NVIDIA H100 80GB HBM3", "total": 80 * 1024**3, "free": 79 * 1024**3}


def gpu_benchmark(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **fake_nvml_env([H100], ROOT),
        "OLLAMA_HOST": "http://127.0.0.1:9",  # nothing listens there
    }
    command = [sys.executable, "-m", "benchmarks.gpu", "--workdir", str(tmp_path), *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_steps_1_and_5_probe_the_card_and_step_down_when_its_memory_is_gone(
    tmp_path: Path,
) -> None:
    stand_in = f"{sys.executable} {STAND_IN}"
    done = gpu_benchmark(
        tmp_path, "--steps", "1,5", "--model-gb", "0.002", "--worker-python", stand_in
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "GPU 0: NVIDIA H100 80GB HBM3, 79.0 GiB free of 80.0 GiB" in out
    assert "| Quick capture / filing | llama3.1:8b | no | — | — | Ollama is not reachable" in out
    assert "| Quick capture / filing | llama3.1:8b | yes | gpu | — | fits the GPU" in out
    assert "the probe gives it 26 of 26 layers on the GPU" in out
    # Room for half: 26 aborts, 13 answers. Room for none: 26 and 13 abort, the CPU answers.
    half, none = out.split("### ")[1:3]
    assert "- tried 26 layers on the GPU: killed by SIGABRT" in half
    assert "with 13 layers on the GPU; 2 worker starts" in half
    assert "- tried 13 layers on the GPU: killed by SIGABRT" in none
    assert "with 0 layers on the GPU; 3 worker starts" in none
    assert "- step 5: PASS: stepped down and answered in 2 of 2 cases" in out


def test_step_5_fails_when_nothing_steps_down(tmp_path: Path) -> None:
    # A stand-in told every layer fits (-1) never crashes: there was no step down to see.
    stand_in = f"{sys.executable} {STAND_IN} -1"
    done = gpu_benchmark(
        tmp_path, "--steps", "5", "--model-gb", "0.002", "--worker-python", stand_in
    )
    assert done.returncode == 1
    assert "- step 5: FAIL: stepped down and answered in 0 of 2 cases" in done.stdout


def test_step_2_needs_the_source_archive(tmp_path: Path) -> None:
    done = gpu_benchmark(tmp_path, "--steps", "2")
    assert done.returncode == 2
    assert "step 2 needs --source: llama-cpp-python's source archive" in done.stderr


def test_the_memory_hog_says_why_when_there_is_no_driver() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_hog", "--leave", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, input="",
    )  # fmt: skip
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"].startswith("no NVIDIA driver library (libcuda.so.1)")


def test_steps_3_and_4_write_a_model_and_time_both_paths_on_the_cpu(tmp_path: Path) -> None:
    # The ratio itself is the GPU machine's figure; here the step runs end to end and reports.
    done = gpu_benchmark(
        tmp_path, "--steps", "3,4", "--model-gb", "0.001", "--tokens", "16", "--rounds", "1"
    )
    assert "bench-64x13.gguf" in done.stdout, done.stdout + done.stderr
    # The fake card takes all 13 layers; this build has no CUDA, so all stay on the CPU.
    assert "the probe gives it 13 of 13 layers on the GPU" in done.stdout
    assert "- step 3: PASS: loaded with 0 of the probe's 13 layers" in done.stdout
    assert "| bare llama-cpp-python | " in done.stdout and "| cortexd's worker | " in done.stdout
    assert "cortexd / bare: " in done.stdout

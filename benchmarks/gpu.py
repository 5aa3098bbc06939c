"""The GPU paths for real, on a machine with an NVIDIA GPU and no network:
`python -m benchmarks.gpu --source llama_cpp_python-X.tar.gz`.

1. **Probe**: the hardware profile (NVML, psutil), and which Local Models rows of the shipped
   routing file are active and why, as Ollama stands now and as if it had pulled each model.
2. **Build** llama-cpp-python with CUDA for this card only (`-DGGML_CUDA=on
   -DCMAKE_CUDA_ARCHITECTURES=<the card's>`, a parallel build) from `--source`, since nothing
   can be downloaded there; the build time is printed.
3. **Model**: a random-weight GGUF of `--model-gb` (1.5 GB, so that decoding, not the worker's
   per-token messages, dominates), its row's fit, and a load with the probe's layer count.
4. **Speed**: tokens/s through cortexd's worker (the supervisor, the worker process and its
   JSON lines) against bare llama-cpp-python with the same settings, interleaved round by
   round; the target is ≥ 95%.
5. **Out of memory**: another process takes most of the card's memory after the probe
   (`benchmarks.gpu_hog`), and the load through cortexd must step down, to fewer layers and
   then to the CPU, and answer instead of failing.

`--steps 1,5` picks steps. On a machine without a GPU, steps 1 and 5 run against the fake
NVML module and the stand-in worker the tests have (`PYTHONPATH=tests/support/fake_nvml`,
`--worker-python` a command that starts the stand-in): the test-suite runs them so.
Exits 1 when a step fails its check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.gpu_steps import (
    Check,
    build,
    load_step,
    out_of_memory,
    probe_step,
    speed,
    write_model,
)


@dataclass(frozen=True)
class Options:
    """What one run does (the command line, typed)."""

    steps: frozenset[int]
    source: Path | None
    workdir: Path
    model_gb: float
    tokens: int
    rounds: int
    worker_python: str | None
    jobs: int


def parse(argv: list[str] | None) -> Options:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__)
    p.add_argument("--steps", default="1,2,3,4,5", help="which steps, e.g. 1,5")
    p.add_argument("--source", type=Path, help="llama-cpp-python's source archive (step 2)")
    p.add_argument("--workdir", type=Path, help="where the build and the model go (a temp dir)")
    p.add_argument("--model-gb", type=float, default=1.5, help="the random model's size")
    p.add_argument("--tokens", type=int, default=256, help="tokens per generation (step 4)")
    p.add_argument("--rounds", type=int, default=3, help="generations per side (step 4)")
    p.add_argument(
        "--worker-python", help="a command that starts a stand-in worker (CPU runs of step 5)"
    )
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 4, help="build jobs")
    a = p.parse_args(argv)
    steps = frozenset(int(s) for s in a.steps.split(",") if s.strip())
    if not steps <= {1, 2, 3, 4, 5}:
        p.error(f"--steps: unknown step in {a.steps!r}")
    if 2 in steps and a.source is None:
        p.error("step 2 needs --source: llama-cpp-python's source archive (an sdist)")
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="cortexd-gpu-"))
    return Options(
        steps, a.source, workdir, a.model_gb, a.tokens, a.rounds, a.worker_python, a.jobs
    )


def run(options: Options) -> list[Check]:
    """Run the chosen steps in order; each one's check."""
    checks: list[Check] = []
    options.workdir.mkdir(parents=True, exist_ok=True)
    profile = probe_step() if 1 in options.steps else None
    if profile is not None:
        checks.append(Check(1, True, "probed"))
    site: Path | None = None
    if 2 in options.steps:
        assert options.source is not None
        site, check = build(options.source, options.workdir / "site", options.jobs, profile)
        checks.append(check)
        if not check.passed:
            return checks
    env = dict(os.environ)
    if site is not None:
        # The CUDA build first, for this process's bare llama.cpp and for the worker.
        sys.path.insert(0, str(site))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    if not options.steps & {3, 4, 5}:
        return checks
    model, layers, check = write_model(options.workdir, options.model_gb, profile)
    if 3 in options.steps:
        checks.append(check)
        checks.append(asyncio.run(load_step(model, layers, env)))
    if 4 in options.steps:
        checks.append(asyncio.run(speed(model, layers, options.tokens, options.rounds, env)))
    if 5 in options.steps:
        checks.append(asyncio.run(out_of_memory(model, layers, env, options.worker_python)))
    return checks


def main(argv: list[str] | None = None) -> int:
    """Run, print each step's verdict, and exit 1 if one failed."""
    options = parse(argv)
    checks = run(options)
    print("\n## Verdict")
    for c in checks:
        print(f"- step {c.step}: {'PASS' if c.passed else 'FAIL'}: {c.summary}")
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())

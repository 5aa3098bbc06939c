"""The steps of `benchmarks.gpu`, each printing what it saw and returning its verdict."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cortexd.api.hardware_routes import listening
from cortexd.context.environment import Environment
from cortexd.context.paths import default_routing_text
from cortexd.hardware import HardwareProfile, load_nvml, probe
from cortexd.local_rows import LocalState, assess
from cortexd.routing import ModelSpec, RoutingTable, catalog_for, parse_routing_text
from cortexd.routing.local_needs import KNOWN_SIZES
from cortexd.routing.providers import ChatMessage, ChatRequest
from cortexd.routing.providers.llamacpp import LlamaCppProvider
from cortexd.routing.providers.llamacpp_supervisor import LlamaCppWorker
from cortexd.routing.providers.settings import OLLAMA_DEFAULT_HOST

GIB = 1024**3
MIB = 1024**2
BENCH = "bench-gguf"
#: GPU memory a worker process needs before any layer: its CUDA context and compute buffers.
CONTEXT_RESERVE = 700 * MIB
#: The model's width: 2048, as a 1 B model has, so a layer is a real matrix-vector product.
WIDTH = 2048
PROMPT = (ChatMessage.of("user", "Hello there"),)


@dataclass(frozen=True)
class Check:
    """A step's verdict and one line saying why."""

    step: int
    passed: bool
    summary: str


def _gib(n: int | float) -> str:
    return f"{n / GIB:.1f} GiB"


def _print_rows(title: str, state: LocalState) -> None:
    print(f"\n{title}\n\n| task type | local model | active | place | GPU layers | why |")
    print("|---|---|---|---|---|---|")
    for r in state.rows:
        layers = "—" if r.gpu_layers is None else str(r.gpu_layers)
        active = "yes" if r.active else "no"
        print(f"| {r.task} | {r.model} | {active} | {r.place or '—'} | {layers} | {r.why} |")


async def _ollama_now(spec: ModelSpec) -> Mapping[str, int]:
    """What the Ollama at the model's address has pulled; an error when none listens."""
    host = spec.base_url or Environment.read().ollama_host or OLLAMA_DEFAULT_HOST
    if not await listening(host):  # the daemon's own check, before the SDK is loaded
        raise ConnectionError(f"nothing listens at {host}")
    import ollama

    listing = await ollama.AsyncClient(host).list()
    return {m.model or "": m.size or 0 for m in listing.models}


async def _all_pulled(spec: ModelSpec) -> Mapping[str, int]:
    return dict.fromkeys(KNOWN_SIZES, 0)  # 0: the catalog's size for each model


def probe_step() -> HardwareProfile:
    """Step 1: the profile, and the shipped routing file's Local Models rows on it."""
    print("## Step 1: the hardware probe")
    profile = probe(nvml=load_nvml())
    ram = f"{_gib(profile.ram_available_bytes)} free of {_gib(profile.ram_total_bytes)}"
    print(f"CPU: {profile.cpu_cores} cores, {profile.cpu_threads} threads; RAM: {ram}")
    for g in profile.gpus:
        cc = "?" if g.compute_capability is None else ".".join(map(str, g.compute_capability))
        memory = f"{_gib(g.free_bytes)} free of {_gib(g.total_bytes)}"
        driver = f"driver {profile.driver_version}, CUDA {profile.cuda_version}"
        print(f"GPU {g.index}: {g.name}, {memory}, compute {cc}; {driver}")
    if profile.gpu_note:
        print(f"no GPU: {profile.gpu_note}")
    shipped = parse_routing_text(default_routing_text(), "the shipped routing file")
    catalog = catalog_for(shipped)
    _print_rows(
        "Local Models rows, with Ollama as it stands now:",
        asyncio.run(assess(shipped, catalog, profile, _ollama_now)),
    )
    _print_rows(
        "The same rows if Ollama had pulled every model (the catalog's sizes):",
        asyncio.run(assess(shipped, catalog, profile, _all_pulled)),
    )
    return profile


def _arch(profile: HardwareProfile | None) -> str:
    if profile is None or not profile.gpus or profile.gpus[0].compute_capability is None:
        raise RuntimeError("step 2 needs the probe to name the card's compute capability")
    major, minor = profile.gpus[0].compute_capability
    return f"{major}{minor}"


def build(
    source: Path, site: Path, jobs: int, profile: HardwareProfile | None
) -> tuple[Path, Check]:
    """Step 2: llama-cpp-python with CUDA for this card only, installed into `site`."""
    print("\n## Step 2: llama-cpp-python with CUDA")
    arch = _arch(profile if profile is not None else probe(nvml=load_nvml()))
    env = {
        **os.environ,
        "CMAKE_ARGS": f"-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES={arch} -DGGML_NATIVE=OFF"
        " -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF",
        "CMAKE_BUILD_PARALLEL_LEVEL": str(jobs),
    }
    # Offline: the build backend must be here already, from `uv sync --group gpu`, or else
    # in uv's cache for an isolated build.
    isolation = (
        [] if importlib.util.find_spec("scikit_build_core") is None else ["--no-build-isolation"]
    )
    command = [
        "uv", "pip", "install", "--offline", "--no-deps", *isolation,
        "--python", sys.executable, "--target", str(site), str(source),
    ]  # fmt: skip
    print(f"CUDA architecture {arch}, {jobs} jobs: {shlex.join(command)}")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    print(f"build time: {seconds:.0f} s")
    if done.returncode != 0:
        print(done.stdout[-3000:] + done.stderr[-3000:])
        return site, Check(2, False, f"the build failed after {seconds:.0f} s")
    return site, Check(2, True, f"built for sm_{arch} in {seconds:.0f} s")


def _bench_table(model: Path) -> RoutingTable:
    text = (
        "## Routing Table\n\n| Task Type | Primary | Fallback |\n|---|---|---|\n"
        "| Bulk operations | haiku | — |\n\n"
        "## Local Models\n\n| Task Type | Local Model | Cloud Fallback |\n|---|---|---|\n"
        f"| Bulk operations | {BENCH} | haiku |\n\n"
        f"## Local Model Files\n\n| Model | File |\n|---|---|\n| {BENCH} | {model} |\n"
    )
    return parse_routing_text(text, "the benchmark's routing file")


def write_model(
    workdir: Path, gb: float, profile: HardwareProfile | None
) -> tuple[Path, int, Check]:
    """Step 3: a random-weight GGUF of about `gb`, and the layers the probe gives it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.gguf_models import write_chat_model

    print("\n## Step 3: a random-weight model")
    width = WIDTH if gb >= 0.25 else 64
    layers = max(2, round(gb * GIB / (20 * width * width)))  # 10 width² f16 weights a layer
    path = workdir / f"bench-{width}x{layers}.gguf"
    started = time.perf_counter()
    if not path.exists():
        write_chat_model(path.with_suffix(".tmp"), n_layer=layers, n_embd=width, n_ctx=4096)
        path.with_suffix(".tmp").rename(path)
    size = path.stat().st_size
    print(f"{path.name}: {size / 1e9:.2f} GB, {layers} layers of width {width},"
          f" written in {time.perf_counter() - started:.1f} s")  # fmt: skip
    profile = profile or probe(nvml=load_nvml())
    table = _bench_table(path)
    state = asyncio.run(assess(table, catalog_for(table), profile, _all_pulled))
    _print_rows("Its Local Models row on this machine:", state)
    gpu_layers = next(iter(state.offload.values()), 0)
    print(f"the probe gives it {gpu_layers} of {layers} layers on the GPU")
    return path, gpu_layers, Check(3, size >= gb * 1e9 * 0.95, f"{size / 1e9:.2f} GB written")


def _local(model: Path, layers: int, worker: LlamaCppWorker) -> LlamaCppProvider:
    return LlamaCppProvider({BENCH: model}, worker, n_ctx=1024, n_gpu_layers=layers)


async def load_step(model: Path, layers: int, env: Mapping[str, str]) -> Check:
    """Step 3's load: through cortexd's worker, with the probe's layer count."""
    worker = LlamaCppWorker(env=env)
    local = _local(model, layers, worker)
    try:
        await local.warm(BENCH)
        load = worker.in_memory[str(model)]
    finally:
        await local.aclose()
    print(f"loaded through cortexd's worker: {load.gpu_layers} GPU layers in {load.seconds:.2f} s"
          f" (GPU offload in this build: {worker.gpu_offload})")  # fmt: skip
    expected = layers if worker.gpu_offload else 0  # a build without CUDA keeps them all
    return Check(3, load.gpu_layers == expected and not load.tried,
                 f"loaded with {load.gpu_layers} of the probe's {layers} layers")  # fmt: skip


async def speed(
    model: Path, layers: int, tokens: int, rounds: int, env: Mapping[str, str]
) -> Check:
    """Step 4: tokens/s through the worker against bare llama-cpp-python, same settings."""
    import llama_cpp

    print("\n## Step 4: tokens/s, cortexd's worker against bare llama-cpp-python")
    messages = [{"role": "user", "content": "Hello there"}]
    bare = llama_cpp.Llama(model_path=str(model), n_ctx=1024, n_gpu_layers=layers, verbose=False)
    worker = LlamaCppWorker(env=env)
    local = _local(model, layers, worker)
    request = ChatRequest(BENCH, PROMPT, max_tokens=tokens, temperature=0.0)
    ours: list[float] = []
    theirs: list[float] = []
    try:
        await local.warm(BENCH)
        for _ in range(rounds):
            started = time.perf_counter()
            for _chunk in bare.create_chat_completion(
                messages=messages, max_tokens=tokens, temperature=0.0, stream=True
            ):
                pass
            theirs.append(tokens / (time.perf_counter() - started))
            started = time.perf_counter()
            answer = await local.complete(request)
            ours.append(answer.usage.output_tokens / (time.perf_counter() - started))
    finally:
        bare.close()
        await local.aclose()
    best_ours, best_theirs = max(ours), max(theirs)
    share = best_ours / best_theirs
    print(f"{tokens} tokens × {rounds} rounds, {layers} GPU layers; best of each:")
    print("| path | tokens/s (each round) | best |\n|---|---|---|")
    for name, rates in (("bare llama-cpp-python", theirs), ("cortexd's worker", ours)):
        print(f"| {name} | {', '.join(f'{r:.0f}' for r in rates)} | {max(rates):.0f} |")
    print(f"cortexd / bare: {share:.1%} (target ≥ 95%)")
    return Check(4, share >= 0.95, f"{share:.1%} of bare llama-cpp-python's tokens/s")


def _stand_in(command: str, fits: int, folder: Path) -> str:
    """An executable that starts the stand-in worker told that `fits` layers fit."""
    script = folder / f"stand-in-{fits}"
    script.write_text(f"#!/bin/sh\nexec {command} {fits}\n")
    script.chmod(0o755)
    return str(script)


def _hog(leave: int) -> subprocess.Popen[str]:
    hog = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.gpu_hog", "--leave", str(leave)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert hog.stdout is not None
    said = json.loads(hog.stdout.readline() or '{"error": "no answer"}')
    if "error" in said:
        raise RuntimeError(f"the memory hog failed: {said['error']}")
    print(f"another process holds {_gib(said['held'])}; {_gib(said['free'])} left free")
    return hog


async def out_of_memory(
    model: Path, layers: int, env: Mapping[str, str], stand_in: str | None
) -> Check:
    """Step 5: after the probe, the card loses most of its memory; cortexd steps down."""
    print("\n## Step 5: out of GPU memory after the probe")
    size = model.stat().st_size
    scenarios = (
        ("room for about half the layers", CONTEXT_RESERVE + int(size * 0.6), layers // 2, True),
        ("room for no layer", CONTEXT_RESERVE + int(size * 0.1), 0, False),
    )
    verdicts = []
    for name, leave, fits, some_on_gpu in scenarios:
        print(f"\n### {name}; the probe said {layers} layers")
        hog = None
        with tempfile.TemporaryDirectory() as folder:
            if stand_in is None:
                hog = _hog(leave)
                worker = LlamaCppWorker(env=env)
            else:
                print(f"the stand-in worker is told {fits} layers fit")
                worker = LlamaCppWorker(env=env, python=_stand_in(stand_in, fits, Path(folder)))
            local = _local(model, layers, worker)
            try:
                answer = await local.complete(ChatRequest(BENCH, PROMPT, max_tokens=8))
                load = worker.last_load[str(model)]
            except Exception as error:  # noqa: BLE001 - any failure is this step's verdict
                print(f"FAILED: {type(error).__name__}: {error}")
                verdicts.append(False)
                continue
            finally:
                await local.aclose()
                if hog is not None:
                    hog.communicate("")
        for tried in load.tried:
            print(f"- tried {tried}")
        print(f"answered ({answer.usage.output_tokens} tokens) with {load.gpu_layers} layers on"
              f" the GPU; {worker.starts} worker starts")  # fmt: skip
        stepped = 0 < load.gpu_layers < layers if some_on_gpu else load.gpu_layers == 0
        verdicts.append(stepped and bool(load.tried))
    return Check(5, all(verdicts), f"stepped down and answered in {sum(verdicts)} of 2 cases")

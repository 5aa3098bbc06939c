"""Which Local Models rows are active: presence (Ollama's listing, GGUF files), capacity on
the probed machine, toggles, and the ranking when only some models fit together."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from support.app import App
from support.cli import cortex
from support.daemon import remove_home, short_home, start_daemon
from support.fakes import FakeOllama
from support.gguf_models import write_chat_model
from support.nvml import fake_nvml_env

from cortexd.context.paths import default_routing_text
from cortexd.hardware import AppleSilicon, Gpu, HardwareProfile
from cortexd.hardware.capacity import GIB
from cortexd.local_rows import assess
from cortexd.routing import ModelSpec, catalog_for, parse_routing_text

SEED = parse_routing_text(default_routing_text())
PULLED = {
    "llama3.1:8b": 4_900_000_000,
    "qwen2.5-coder:14b": 9_000_000_000,
    "qwen2.5:14b": 9_000_000_000,
    "nomic-embed-text:latest": 274_000_000,
}


def machine(gpu_free: int | None = None, ram_free: int = 12 * GIB) -> HardwareProfile:
    gpus = () if gpu_free is None else (Gpu(0, "GPU", 24 * GIB, gpu_free, 0, (8, 9)),)
    note = None if gpus else "no NVIDIA GPU: the NVIDIA driver's NVML library is not installed"
    return HardwareProfile(0.0, 8, 16, 32 * GIB, ram_free, gpus, gpu_note=note)


def ollama(listing: Mapping[str, int] | Exception) -> object:
    async def pulled(spec: ModelSpec) -> Mapping[str, int]:
        if isinstance(listing, Exception):
            raise listing
        return listing

    return pulled


async def states(
    profile: HardwareProfile, listing: Mapping[str, int] | Exception = PULLED, text: str = ""
) -> dict[str, tuple[bool, str]]:
    table = parse_routing_text(text) if text else SEED
    found = await assess(table, catalog_for(table), profile, ollama(listing))  # type: ignore[arg-type]
    return {r.task: (r.active, r.why) for r in found.rows}


@pytest.mark.anyio
async def test_without_a_gpu_only_the_small_embedder_runs_on_the_cpu() -> None:
    found = await states(machine())
    assert found["Embeddings"] == (True, found["Embeddings"][1])
    assert "small enough for the CPU" in found["Embeddings"][1]
    active, why = found["Quick capture / filing"]
    assert not active and "needs 5.6 GiB on a GPU or unified memory; no NVIDIA GPU" in why


@pytest.mark.anyio
async def test_a_gpu_with_room_for_everything_turns_every_row_on() -> None:
    found = await states(machine(gpu_free=40 * GIB))
    assert all(active for active, _ in found.values()), found
    assert "fits the GPU" in found["Code generation"][1]


@pytest.mark.anyio
async def test_with_room_for_some_the_busiest_models_win() -> None:
    # 16 GiB free: llama3.1:8b serves three rows and goes first; either 14 B model would fit
    # alone, but neither fits beside it.
    found = await states(machine(gpu_free=16 * GIB))
    assert found["Quick capture / filing"][0] and found["Bulk operations"][0]
    fourteen = [found["Code generation"], found["General agent work"]]
    assert sum(active for active, _ in fourteen) == 0
    assert all("busier rows take the memory first" in why for _, why in fourteen)


@pytest.mark.anyio
async def test_unified_memory_on_apple_silicon() -> None:
    mac = HardwareProfile(
        0.0, 12, 12, 32 * GIB, 24 * GIB, apple=AppleSilicon("Apple M2 Pro", 32 * GIB, 8, 4)
    )
    found = await states(mac)
    assert found["Quick capture / filing"] == (True, found["Quick capture / filing"][1])
    assert "fits unified memory" in found["Quick capture / filing"][1]


@pytest.mark.anyio
async def test_ollama_absent_or_without_the_model_is_said() -> None:
    unreachable = await states(machine(gpu_free=40 * GIB), ConnectionRefusedError())
    assert unreachable["Quick capture / filing"] == (
        False,
        "Ollama is not reachable (ConnectionRefusedError)",
    )
    partial = await states(machine(gpu_free=40 * GIB), {"llama3.1:8b": 4_900_000_000})
    assert partial["Code generation"] == (
        False,
        "Ollama has not pulled qwen2.5-coder:14b (ollama pull qwen2.5-coder:14b)",
    )
    assert partial["Quick capture / filing"][0]


ROUTES = (
    "## Routing Table\n\n| Task Type | Primary | Fallback |\n|---|---|---|\n"
    "| Code review | sonnet | codex |\n"
)


@pytest.mark.anyio
async def test_toggles_and_gguf_files(tmp_path: Path) -> None:
    write_chat_model(tmp_path / "tiny.gguf")
    text = (
        ROUTES
        + "\n## Local Model Files\n\n| Model | File |\n|---|---|\n"
        + f"| tiny | {tmp_path / 'tiny.gguf'} |\n| gone | {tmp_path / 'gone.gguf'} |\n"
        + "\n## Local Models\n\n| Task Type | Local Model | Cloud Fallback | Enabled |\n"
        + "|---|---|---|---|\n| Code review | tiny | sonnet | auto |\n"
        + "| Quick capture / filing | gone | haiku | auto |\n"
        + "| Bulk operations | llama3.1:8b | haiku | on |\n"
        + "| Embeddings | nomic-embed-text | — | off |\n"
    )
    found = await states(machine(), text=text)
    assert found["Code review"][0] and "small enough for the CPU" in found["Code review"][1]
    assert found["Quick capture / filing"] == (
        False,
        "no GGUF file for gone (## Local Model Files)",
    )
    assert found["Bulk operations"] == (True, "forced on in the routing file")
    assert found["Embeddings"] == (False, "off in the routing file")


# --- through the daemon: a fake GPU (NVML at the process boundary) and a fake Ollama --------


def test_with_a_gpu_and_ollama_holding_llama_a_quick_capture_goes_local() -> None:
    gpu = [{"name": "NVIDIA GeForce RTX 4090", "total": 24 * GIB, "free": 20 * GIB}]
    home = short_home()
    # Held in memory (/api/ps): /v1/route shows the plan a call takes, and a cold model
    # would be moved behind the cloud while it loads (test_warmup covers that).
    with FakeOllama(models=["llama3.1:8b", "nomic-embed-text"], loaded=["llama3.1:8b"]) as fake:
        env = {
            **fake_nvml_env(gpu),
            "OLLAMA_HOST": fake.base_url,
        }
        daemon = start_daemon(home, env)
        try:
            hardware = daemon.client().get("/v1/hardware").json()
            assert [g["name"] for g in hardware["gpus"]] == ["NVIDIA GeForce RTX 4090"]
            rows = {r["task"]: r for r in hardware["local_rows"]}
            assert rows["Quick capture / filing"]["active"] is True
            assert rows["Quick capture / filing"]["place"] == "gpu"
            assert rows["Code generation"]["why"] == (
                "Ollama has not pulled qwen2.5-coder:14b (ollama pull qwen2.5-coder:14b)"
            )
            body = {
                "model": "auto",
                "messages": [{"role": "user", "content": "save this: call the dentist tuesday"}],
            }
            plan = daemon.client().post("/v1/route", json=body).json()
            assert plan["task"] == "Quick capture / filing"
            assert plan["chain"] == ["llama3.1:8b", "haiku"]
            health = {r["task"]: r for r in daemon.client().get("/v1/health").json()["local_rows"]}
            assert health["Quick capture / filing"]["active"] is True
            assert health["Code generation"]["why"].startswith("Ollama has not pulled")
        finally:
            daemon.stop()
            remove_home(home)


def test_without_a_gpu_cortex_hardware_says_which_rows_are_off_and_why(app: App) -> None:
    shown = cortex(app.socket, "hardware")
    assert shown.returncode == 0, shown.stderr
    assert "Local Models rows" in shown.stdout
    assert "Ollama is not reachable" in shown.stdout  # no Ollama runs here
    health = cortex(app.socket, "health")
    assert "local rows active: 0 of 6 (none); why the others are not: cortex hardware" in (
        health.stdout
    )

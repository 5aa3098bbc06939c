"""llama.cpp for real: tiny generated GGUF models, run in the supervised worker process.

With random weights the text is noise, so these assert structure — roles, finish reasons,
token counts, vector sizes — and the supervisor's promises: a crash is our error, the worker
comes back, a bad file is remembered, keys never reach the worker.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.gguf_models import (
    write_aborting_model,
    write_chat_model,
    write_corrupt_model,
    write_embedding_model,
)

from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    ContextLengthError,
    EmbedRequest,
    ModelLoadError,
    ModelNotFoundError,
    NotConfiguredError,
    ProviderConnectionError,
    StreamEnd,
    TextDelta,
    ToolSpec,
    UnsupportedRequestError,
)
from cortexd.routing.providers.llamacpp import LlamaCppProvider, read_gguf_info
from cortexd.routing.providers.llamacpp_supervisor import LlamaCppWorker
from cortexd.routing.providers.llamacpp_worker import on_the_gpu

pytestmark = pytest.mark.anyio
CANARY = "sk-ant-test-canary-0123456789abcdefghij"
EMBED_WIDTH = 64


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gguf")
    return {
        "tiny": write_chat_model(folder / "tiny.gguf"),
        "embed": write_embedding_model(folder / "embed.gguf", n_embd=EMBED_WIDTH),
        "corrupt": write_corrupt_model(folder / "corrupt.gguf"),
        "aborts": write_aborting_model(folder / "aborts.gguf"),
        "gone": folder / "missing.gguf",
    }


@pytest.fixture
async def worker(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LlamaCppWorker]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    w = LlamaCppWorker(idle_unload_s=60)
    yield w
    await w.aclose()


@pytest.fixture
def local(models: dict[str, Path], worker: LlamaCppWorker) -> LlamaCppProvider:
    # Tiny models run fastest on one thread (DESIGN.md).
    return LlamaCppProvider(models, worker, n_ctx=256, n_threads=1, n_threads_batch=1)


def chat(model: str = "tiny", text: str = "Hello there", max_tokens: int = 8) -> ChatRequest:
    messages = (ChatMessage.of("system", "Be brief."), ChatMessage.of("user", text))
    return ChatRequest(model, messages, max_tokens=max_tokens)


async def test_a_completion_has_usage_timing_and_the_models_name(local: LlamaCppProvider) -> None:
    response = await local.complete(chat(max_tokens=6))
    assert response.model == "tiny"
    assert response.finish_reason == "length"  # random weights never choose to stop
    assert response.usage.output_tokens == 6
    assert response.usage.input_tokens > 10  # system + user turn through the file's template
    assert response.text
    assert response.timing.first_token_s is not None
    assert 0 < response.timing.first_token_s <= response.timing.total_s


async def test_a_stream_yields_deltas_then_the_whole_answer(local: LlamaCppProvider) -> None:
    events = [e async for e in local.stream(chat(max_tokens=5))]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    deltas = [e for e in events[:-1] if isinstance(e, TextDelta)]
    assert deltas and "".join(d.text for d in deltas) == end.response.text
    assert end.response.usage.output_tokens == 5
    assert end.response.finish_reason == "length"


async def test_embeddings_are_unit_vectors_of_the_models_width(local: LlamaCppProvider) -> None:
    result = await local.embed(EmbedRequest("embed", ("a b", "c", "hello there")))
    assert len(result.vectors) == 3
    assert all(len(v) == EMBED_WIDTH for v in result.vectors)
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-4) for v in result.vectors)
    assert result.vectors[0] != result.vectors[1]
    assert result.usage.input_tokens > 0


async def test_capabilities_come_from_the_gguf_header(
    local: LlamaCppProvider, models: dict[str, Path]
) -> None:
    chat_caps = await local.capabilities("tiny")
    assert chat_caps.chat and not chat_caps.embeddings and chat_caps.json_mode
    assert chat_caps.context_window == 256
    embed_caps = await local.capabilities("embed")
    assert embed_caps.embeddings and not embed_caps.chat
    info = read_gguf_info(models["tiny"])
    assert info.architecture == "llama" and info.has_chat_template


async def test_keys_never_reach_the_worker(local: LlamaCppProvider, worker: LlamaCppWorker) -> None:
    await local.complete(chat(max_tokens=1))
    assert worker.pid is not None
    environ = Path(f"/proc/{worker.pid}/environ").read_bytes()
    assert CANARY.encode() not in environ
    assert b"ANTHROPIC_API_KEY" not in environ and b"OPENAI_API_KEY" not in environ


async def test_a_corrupt_file_is_a_load_error_and_the_worker_lives_on(
    local: LlamaCppProvider, worker: LlamaCppWorker
) -> None:
    await local.complete(chat(max_tokens=1))
    pid = worker.pid
    with pytest.raises(ModelLoadError, match="cannot load the model"):
        await local.complete(chat("corrupt"))
    assert (await local.complete(chat(max_tokens=2))).usage.output_tokens == 2
    assert worker.pid == pid and worker.starts == 1


async def test_a_file_that_aborts_llama_cpp_kills_only_the_worker(
    local: LlamaCppProvider, worker: LlamaCppWorker
) -> None:
    with pytest.raises(ModelLoadError, match=r"crashed loading aborts\.gguf \(killed by SIGABRT\)"):
        await local.complete(chat("aborts"))
    # Remembered: the same file fails at once, without crashing another worker.
    with pytest.raises(ModelLoadError, match="crashed loading"):
        await local.complete(chat("aborts"))
    assert worker.starts == 1
    assert (await local.complete(chat(max_tokens=2))).finish_reason == "length"
    assert worker.starts == 2


async def test_a_worker_killed_mid_call_fails_the_call_and_comes_back(
    local: LlamaCppProvider, worker: LlamaCppWorker
) -> None:
    await local.complete(chat(max_tokens=1))
    stream = local.stream(chat(max_tokens=200, text="Hello " * 20))
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(ProviderConnectionError, match="worker died .*SIGKILL"):
        async for _ in stream:
            pass
    assert (await local.complete(chat(max_tokens=2))).usage.output_tokens == 2
    assert worker.starts == 2


async def test_a_stream_the_caller_abandons_is_cancelled_cleanly(
    local: LlamaCppProvider, worker: LlamaCppWorker
) -> None:
    stream = local.stream(chat(max_tokens=200))
    await anext(stream)
    await stream.aclose()  # the client hung up
    assert not worker._lock.locked()  # the cancel was sent and answered at once, not by GC
    response = await local.complete(chat(max_tokens=3))
    assert response.usage.output_tokens == 3 and worker.starts == 1


async def test_a_prompt_longer_than_the_context_is_a_context_length_error(
    local: LlamaCppProvider,
) -> None:
    with pytest.raises(ContextLengthError):
        await local.complete(chat(text="hello there " * 200))
    assert (await local.complete(chat(max_tokens=1))).usage.output_tokens == 1


async def test_requests_it_cannot_serve_are_refused_before_the_worker(
    local: LlamaCppProvider, worker: LlamaCppWorker
) -> None:
    with pytest.raises(ModelNotFoundError, match="Local Model Files"):
        await local.complete(chat("nobody"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        await local.complete(chat("gone"))
    tool = ToolSpec("lookup", "Look it up")
    with pytest.raises(UnsupportedRequestError, match="no tools"):
        await local.complete(ChatRequest("tiny", chat().messages, tools=(tool,)))
    assert worker.starts == 0


async def test_status_reports_a_running_worker_and_missing_files(local: LlamaCppProvider) -> None:
    status = await local.status()
    assert status.configured and status.reachable
    assert "missing files: gone" in status.detail


async def test_a_llama_cpp_that_cannot_import_makes_the_provider_unavailable(
    tmp_path: Path, models: dict[str, Path]
) -> None:
    # A broken build: the module exists but its shared library does not load.
    (tmp_path / "llama_cpp.py").write_text("raise OSError('libllama.so: cannot open')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    worker = LlamaCppWorker(env=env)
    provider = LlamaCppProvider(models, worker)
    try:
        status = await provider.status()
        assert status.reachable is False and not status.configured
        assert "libllama.so" in status.detail
        with pytest.raises(NotConfiguredError, match="llama-cpp-python cannot be loaded"):
            await provider.complete(chat())
    finally:
        await provider.aclose()


async def test_models_are_cached_and_unloaded_when_idle(models: dict[str, Path]) -> None:
    worker = LlamaCppWorker(idle_unload_s=0.4)
    local = LlamaCppProvider(models, worker, n_ctx=256, n_threads=1, n_threads_batch=1)
    try:
        await local.complete(chat(max_tokens=1))
        assert await worker.ping() == [str(models["tiny"])]
        await asyncio.sleep(1.2)
        assert await worker.ping() == []
        assert (await local.complete(chat(max_tokens=1))).usage.output_tokens == 1
        assert worker.starts == 1
    finally:
        await local.aclose()


# --- layers on the GPU, warm-up, and what is in memory --------------------------------------


async def test_the_offload_decision_reaches_llama_cpp_and_warmth_follows_the_loads(
    models: dict[str, Path], worker: LlamaCppWorker
) -> None:
    # The hardware probe's decision for a CPU-only machine: no layer on a GPU.
    asked: list[str] = []

    def offload(model: str) -> int | None:
        asked.append(model)
        return 0 if model == "tiny" else None

    local = LlamaCppProvider(
        models, worker, n_ctx=256, n_threads=1, n_threads_batch=1, offload=offload
    )
    before = await local.warmth("tiny")
    assert before is not None and not before.loaded and not before.measured
    assert before.load_seconds == pytest.approx(models["tiny"].stat().st_size / 1.5e9)
    await local.warm("tiny")  # loads without asking anything
    after = await local.warmth("tiny")
    assert after is not None and after.loaded and after.measured
    assert 0 < after.load_seconds < 30
    assert worker.in_memory[str(models["tiny"])].gpu_layers == 0
    await local.complete(chat(max_tokens=1))
    assert worker.starts == 1 and asked == ["tiny", "tiny"]
    assert await local.warmth("unknown") is None


async def test_a_model_unloaded_when_idle_is_cold_again(models: dict[str, Path]) -> None:
    worker = LlamaCppWorker(idle_unload_s=0.4)
    local = LlamaCppProvider(models, worker, n_ctx=256, n_threads=1, n_threads_batch=1)
    try:
        await local.complete(chat(max_tokens=1))
        assert (await local.warmth("tiny")).loaded  # type: ignore[union-attr]
        for _ in range(100):  # the worker says so on its own, between calls
            await asyncio.sleep(0.1)
            if str(models["tiny"]) not in worker.in_memory:
                break
        cold = await local.warmth("tiny")
        assert cold is not None and not cold.loaded and cold.measured  # the time is kept
    finally:
        await local.aclose()


async def test_on_a_build_without_gpu_offload_every_layer_stays_on_the_cpu(
    models: dict[str, Path], worker: LlamaCppWorker
) -> None:
    local = LlamaCppProvider(
        models, worker, n_ctx=256, n_threads=1, n_threads_batch=1, offload=lambda m: 4
    )
    await local.complete(chat(max_tokens=1))
    assert worker.gpu_offload is False  # the wheel built here has no CUDA or Metal
    assert worker.in_memory[str(models["tiny"])].gpu_layers == 0


FAKE_GPU_WORKER = Path(__file__).parent / "support" / "fake_gpu_worker" / "worker.py"


def gpu_worker(tmp_path: Path, *args: str) -> LlamaCppWorker:
    """A supervisor whose worker process is the stand-in for a GPU short of memory."""
    python = tmp_path / "python"
    words = " ".join(args)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_GPU_WORKER}" {words}\n')
    python.chmod(0o755)
    return LlamaCppWorker(python=str(python))


async def test_a_gpu_that_aborts_every_load_steps_down_to_the_cpu_within_the_call(
    models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = gpu_worker(tmp_path, "0")
    local = LlamaCppProvider(models, worker, offload=lambda m: 12)
    try:
        await local.warm("tiny")  # 12 layers abort, 6 abort, the CPU loads: no error
        assert worker.starts == 3
        load = worker.in_memory[str(models["tiny"])]
        assert load.gpu_layers == 0
        assert [t.split(":")[0] for t in load.tried] == [
            "12 layers on the GPU", "6 layers on the GPU",
        ]  # fmt: skip
        assert "killed by SIGABRT" in load.tried[0] and "out of memory (12 layers)" in load.tried[0]
        assert "tiny loaded with no layers on the GPU after: 12 layers on the GPU" in caplog.text
        await local.warm("tiny")  # the cap is kept: no third crash, no restart
        assert worker.starts == 3 and worker.in_memory[str(models["tiny"])].gpu_layers == 0
        assert worker.in_memory[str(models["tiny"])].tried == ()
    finally:
        await local.aclose()


async def test_a_gpu_with_room_for_half_the_layers_keeps_half(
    models: dict[str, Path], tmp_path: Path
) -> None:
    worker = gpu_worker(tmp_path, "8")
    local = LlamaCppProvider(models, worker, offload=lambda m: 12)
    try:
        await local.warm("tiny")
        assert worker.starts == 2
        assert worker.in_memory[str(models["tiny"])].gpu_layers == 6
        await local.warm("tiny")
        assert worker.starts == 2 and worker.in_memory[str(models["tiny"])].gpu_layers == 6
    finally:
        await local.aclose()


async def test_all_layers_asked_of_a_gpu_that_holds_none_go_straight_to_the_cpu(
    models: dict[str, Path], tmp_path: Path
) -> None:
    worker = gpu_worker(tmp_path, "0")
    local = LlamaCppProvider(models, worker)  # no probe: all layers (-1), the default
    try:
        answer = await local.complete(chat(max_tokens=1))
        assert answer.text == "ok"
        assert worker.starts == 2 and worker.in_memory[str(models["tiny"])].gpu_layers == 0
    finally:
        await local.aclose()


async def test_a_crash_after_the_answer_began_fails_that_call_and_steps_down_for_the_next(
    models: dict[str, Path], tmp_path: Path
) -> None:
    worker = gpu_worker(tmp_path, "4", "late")
    local = LlamaCppProvider(models, worker, offload=lambda m: 12)
    try:
        # Part of the answer was streamed: sending it again would repeat it, so it fails.
        with pytest.raises(
            ModelLoadError, match=r"crashed running tiny.gguf with 12 layers on the GPU: killed"
            r" by SIGABRT .*; it loads with 6 layers on the GPU from the next call",
        ):  # fmt: skip
            async for _ in local.stream(chat()):
                pass
        # The next one starts at 6, which still aborts mid-answer: it fails the same way.
        with pytest.raises(ModelLoadError, match=r"with 6 layers .* it loads with no layers"):
            await local.complete(chat())
        answer = await local.complete(chat())  # on the CPU
        assert answer.text == "ok" and worker.starts == 3
        assert worker.last_load[str(models["tiny"])].gpu_layers == 0
    finally:
        await local.aclose()


async def test_this_llama_cpp_takes_the_settings_of_the_cpu_after_a_gpu_failure(
    models: dict[str, Path], worker: LlamaCppWorker
) -> None:
    load = {"n_ctx": 256, **on_the_gpu(0, after_failure=True)}
    message = {"op": "load", "model_path": str(models["tiny"]), "load": load}
    async for _ in worker.call(message, model="tiny", model_file=models["tiny"]):
        pass
    assert worker.in_memory[str(models["tiny"])].gpu_layers == 0


async def test_a_file_that_aborts_on_the_cpu_too_is_blamed_after_the_gpu_steps(
    models: dict[str, Path], worker: LlamaCppWorker
) -> None:
    # The real worker: this build has no GPU offload, so the aborting file is tried on the
    # CPU at once and marked bad; the GPU ladder is never entered.
    local = LlamaCppProvider(models, worker, n_ctx=256, offload=lambda m: 12)
    with pytest.raises(ModelLoadError, match="the file is malformed or not supported"):
        await local.warm("aborts")
    with pytest.raises(ModelLoadError, match="the file is malformed"):
        await local.warm("aborts")
    assert worker.starts == 1

"""The tiny GGUF models the suite writes at test time load and run in the real llama.cpp."""

from __future__ import annotations

import math
import os
import signal
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest
from support.gguf_models import (
    CHAT_TEMPLATE,
    write_aborting_model,
    write_chat_model,
    write_corrupt_model,
    write_embedding_model,
)

MESSAGES: list[llama_cpp.ChatCompletionRequestMessage] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hello there"},
]


def load(path: Path, *, embedding: bool = False) -> llama_cpp.Llama:
    """Load a model the way these tests need it, quietly."""
    # Tiny models run fastest on one thread; more only adds synchronisation.
    return llama_cpp.Llama(
        model_path=str(path),
        embedding=embedding,
        n_ctx=256,
        n_threads=1,
        n_threads_batch=1,
        verbose=False,
    )


@pytest.fixture(scope="module")
def chat_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chat_model(tmp_path_factory.mktemp("gguf") / "chat.gguf")


@pytest.fixture(scope="module")
def chat(chat_path: Path) -> Iterator[llama_cpp.Llama]:
    llm = load(chat_path)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llama_cpp.Llama]:
    path = write_embedding_model(tmp_path_factory.mktemp("gguf") / "embed.gguf")
    llm = load(path, embedding=True)
    yield llm
    llm.close()


def test_chat_model_is_small_and_written_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    path = write_chat_model(tmp_path / "chat.gguf")
    elapsed = time.perf_counter() - start
    assert 50_000 < path.stat().st_size < 1_000_000
    assert elapsed < 1.0
    assert path.read_bytes()[:4] == b"GGUF"


def test_same_seed_same_file_other_seed_other_weights(tmp_path: Path) -> None:
    one = write_chat_model(tmp_path / "one.gguf", seed=1).read_bytes()
    again = write_chat_model(tmp_path / "again.gguf", seed=1).read_bytes()
    other = write_chat_model(tmp_path / "other.gguf", seed=2).read_bytes()
    assert one == again
    assert one != other and len(one) == len(other)


def test_chat_model_metadata_and_template_come_from_the_file(chat: llama_cpp.Llama) -> None:
    assert chat.metadata["general.architecture"] == "llama"
    assert chat.metadata["tokenizer.ggml.model"] == "llama"
    assert chat.metadata["tokenizer.chat_template"] == CHAT_TEMPLATE
    # llama-cpp-python renders the file's own Jinja template, not a built-in format.
    assert chat.chat_format == "chat_template.default"
    assert chat.n_embd() == 64
    assert chat.n_ctx() == 256
    assert chat.detokenize([chat.token_bos()], special=True) == b"<s>"
    assert chat.detokenize([chat.token_eos()], special=True) == b"</s>"


def test_chat_markers_are_single_control_tokens(chat: llama_cpp.Llama) -> None:
    start = chat.tokenize(b"<|im_start|>", add_bos=False, special=True)
    end = chat.tokenize(b"<|im_end|>", add_bos=False, special=True)
    assert len(start) == 1 and len(end) == 1
    # Without special parsing a marker is plain text, spelled out in several tokens.
    assert len(chat.tokenize(b"<|im_start|>", add_bos=False, special=False)) > 1


def test_chat_completion(chat: llama_cpp.Llama) -> None:
    reply = chat.create_chat_completion(messages=MESSAGES, max_tokens=8)
    assert isinstance(reply, dict)
    choice = reply["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    usage = reply["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_streams_chunks(chat: llama_cpp.Llama) -> None:
    stream = chat.create_chat_completion(messages=MESSAGES, max_tokens=8, stream=True)
    assert not isinstance(stream, dict)
    chunks = list(stream)
    assert len(chunks) >= 3
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join(str(c["choices"][0]["delta"].get("content") or "") for c in chunks)


@pytest.mark.parametrize(
    "text",
    [
        "Hello there",
        "the quick brown fox, 42 times!",
        string.printable,
        "  two  spaces\tand\nnewlines\n",
    ],
)
def test_ascii_round_trips_through_the_tokenizer(chat: llama_cpp.Llama, text: str) -> None:
    tokens = chat.tokenize(text.encode())
    assert tokens[0] == chat.token_bos()
    assert chat.detokenize(tokens) == text.encode()


def test_chat_model_dimensions_follow_the_arguments(tmp_path: Path) -> None:
    path = write_chat_model(tmp_path / "small.gguf", n_layer=1, n_embd=32, n_ctx=512)
    llm = load(path)
    try:
        assert llm.n_embd() == 32
        assert llm.metadata["llama.block_count"] == "1"
        assert llm.metadata["llama.context_length"] == "512"
    finally:
        llm.close()


def test_embedding_model_returns_one_vector_per_text(embedder: llama_cpp.Llama) -> None:
    assert embedder.metadata["general.architecture"] == "nomic-bert"
    # pooling_type() is annotated "-> str" but returns llama.cpp's int enum.
    assert int(embedder.pooling_type()) == llama_cpp.LLAMA_POOLING_TYPE_MEAN
    vectors = embedder.embed(["a b", "c"])
    assert len(vectors) == 2
    for vector in vectors:
        assert isinstance(vector, list) and len(vector) == 64
        assert all(isinstance(x, float) and math.isfinite(x) for x in vector)
    assert vectors[0] != vectors[1]


def test_embeddings_are_normalised_only_on_request(embedder: llama_cpp.Llama) -> None:
    raw = embedder.embed("some text")
    unit = embedder.embed("some text", normalize=True)
    assert isinstance(raw, list) and isinstance(unit, list)
    assert abs(math.hypot(*raw) - 1.0) > 0.1
    assert math.hypot(*unit) == pytest.approx(1.0, abs=1e-4)


def test_embedding_dimensions_follow_the_arguments(tmp_path: Path) -> None:
    path = write_embedding_model(tmp_path / "small.gguf", n_layer=1, n_embd=32)
    llm = load(path, embedding=True)
    try:
        vector = llm.embed("one")
        assert isinstance(vector, list) and len(vector) == 32
    finally:
        llm.close()


@pytest.mark.parametrize(("n_layer", "n_embd"), [(0, 64), (2, 40), (2, 8)])
def test_bad_dimensions_are_refused_before_writing(
    tmp_path: Path, n_layer: int, n_embd: int
) -> None:
    with pytest.raises(ValueError):
        write_chat_model(tmp_path / "bad.gguf", n_layer=n_layer, n_embd=n_embd)
    assert not (tmp_path / "bad.gguf").exists()


def test_corrupt_model_raises_an_ordinary_exception(tmp_path: Path) -> None:
    path = write_corrupt_model(tmp_path / "corrupt.gguf")
    with pytest.raises(ValueError, match="Failed to load model from file"):
        load(path)


def test_aborting_model_kills_the_loading_process(tmp_path: Path) -> None:
    path = write_aborting_model(tmp_path / "abort.gguf")
    code = (
        "import sys, llama_cpp\n"
        "llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, n_threads_batch=1,"
        " verbose=False)\n"
        "print('survived')\n"
    )
    # Without GGML_NO_BACKTRACE ggml first attaches gdb to print a backtrace, which is slow.
    env = {**os.environ, "GGML_NO_BACKTRACE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "survived" not in result.stdout
    assert result.returncode == -signal.SIGABRT, result.stderr[-2000:]

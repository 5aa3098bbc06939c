"""Local embeddings through the application, in-process: nomic's task prefixes from the request's
``input_type``, through Ollama (the fake records what it was sent) and through llama.cpp
with a generated nomic-bert GGUF (real vectors); a clear error without a local embedder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.app import App, start_app
from support.cli import cortex
from support.daemon import remove_home, short_home
from support.fakes import FakeOllama, Turn
from support.gguf_models import write_embedding_model

from cortexd.context.paths import default_routing_text
from cortexd.routing import InputType, wants_prefixes, with_prefixes


def test_prefixes_by_type_and_never_twice() -> None:
    texts = ("the dentist on tuesday", "search_document: already")
    assert with_prefixes(texts, None) == (
        "search_document: the dentist on tuesday",
        "search_document: already",
    )
    assert with_prefixes(texts[:1], InputType.CLUSTERING) == ("clustering: the dentist on tuesday",)
    assert wants_prefixes("local-embedder", "nomic-embed-text-v1.5.Q8_0")
    assert not wants_prefixes("text-embedding-3-small")


def embed(daemon: App, **body: Any) -> Any:
    return daemon.client().post("/v1/embeddings", json={"model": "auto", **body})


def test_through_ollama_the_prefixes_reach_the_model() -> None:
    home = short_home()
    with FakeOllama(models=["nomic-embed-text"]) as fake:
        daemon = start_app(home, {"OLLAMA_HOST": fake.base_url})
        try:
            fake.enqueue(Turn(embedding_dims=8), Turn(embedding_dims=8))
            answer = embed(daemon, input=["call the dentist"], input_type="query")
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["data"][0]["embedding"]) == 8
            answer = embed(daemon, input=["notes from tuesday", "search_query: kept"])
            assert answer.status_code == 200, answer.text
            sent = [r.json["input"] for r in fake.requests if r.path == "/api/embed"]
            # The classifier's example prompts are embedded too (their own prefix): not ours.
            sent = [batch for batch in sent if not batch[0].startswith("classification: ")]
            assert sent == [
                ["search_query: call the dentist"],
                ["search_document: notes from tuesday", "search_query: kept"],
            ]
            bad = embed(daemon, input=["x"], input_type="poetry")
            assert bad.status_code == 400 and "input_type" in bad.text
        finally:
            daemon.stop()
            remove_home(home)


def test_without_a_local_embedder_the_error_says_why(app: App) -> None:
    daemon = app
    daemon.client().get("/v1/hardware")  # the rows are known (the probe also runs at start)
    answer = embed(daemon, input=["hello"])
    assert answer.status_code == 503
    message = answer.json()["error"]["message"]
    assert message.startswith("no local embedding model is available: nomic-embed-text: ")
    assert "Ollama is not reachable" in message


@pytest.fixture(scope="module")
def gguf_embedder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A daemon whose nomic-embed-text is a generated nomic-bert GGUF, run by llama.cpp."""
    model = write_embedding_model(tmp_path_factory.mktemp("gguf") / "nomic.gguf")
    home = short_home()
    (home / "context").mkdir(parents=True)
    files = (
        f"\n## Local Model Files\n\n| Model | File |\n|---|---|\n| nomic-embed-text | {model} |\n"
    )
    (home / "context" / "model-routing.md").write_text(default_routing_text() + files)
    daemon = start_app(home, {})
    yield daemon
    daemon.stop()
    remove_home(home)


def vector(daemon: App, text: str, kind: str | None = None) -> list[float]:
    body: dict[str, Any] = {"input": [text]}
    if kind:
        body["input_type"] = kind
    answer = embed(daemon, **body)
    assert answer.status_code == 200, answer.text
    found: list[float] = answer.json()["data"][0]["embedding"]
    return found


def test_through_llama_cpp_a_query_and_a_document_embed_differently(gguf_embedder: App) -> None:
    query = vector(gguf_embedder, "call the dentist", "query")
    document = vector(gguf_embedder, "call the dentist")
    assert query != document
    assert vector(gguf_embedder, "search_query: call the dentist", "query") == query
    assert vector(gguf_embedder, "search_query: call the dentist") == query  # kept as sent


def test_cortex_embed(gguf_embedder: App) -> None:
    socket = gguf_embedder.socket
    shown = cortex(socket, "embed", "--type", "query", "call the dentist", "and the vet")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("2 vector(s) of ")
    raw = cortex(socket, "embed", "--json", "-", stdin="from stdin")
    assert raw.returncode == 0, raw.stderr
    assert len(json.loads(raw.stdout)["data"]) == 1

"""The application's similarity step, in-process: with the local embedder active (a fake
Ollama serving the stand-in embedder's vectors), a prompt the model alone sends to the
default route is classified by its similarity to the examples, and /v1/route says so."""

from __future__ import annotations

from typing import Any

from support.app import App, start_app
from support.daemon import remove_home, short_home
from support.fakes import FakeOllama
from support.stand_in_embedder import stand_in_vector
from support.waiting import wait_for

from cortexd.context.paths import default_routing_text

#: Near a shipped Research / analysis example; the model alone is unsure of it (under 0.3).
UNSURE = "cómo ha evolucionado el precio de la vivienda en Madrid"
USER_EXAMPLES = "# Task Examples\n\n## Research / analysis\n\n- rents in Lisbon since 2015\n"


def route(daemon: App, text: str, **extra: Any) -> dict[str, Any]:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}
    answer = daemon.client().post("/v1/route", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def embedded(fake: FakeOllama) -> list[list[str]]:
    return [list(r.json["input"]) for r in fake.requests if r.path == "/api/embed"]


def test_similarity_to_the_examples_decides_an_unsure_prompt() -> None:
    home = short_home()
    (home / "context").mkdir(parents=True)
    (home / "context" / "model-routing.md").write_text(default_routing_text())
    (home / "context" / "task-examples.md").write_text(USER_EXAMPLES)
    with FakeOllama(models=["nomic-embed-text"], vectors=stand_in_vector) as fake:
        daemon = start_app(home, {"OLLAMA_HOST": fake.base_url})
        try:
            rows = daemon.client().get("/v1/hardware").json()["local_rows"]
            assert next(r for r in rows if r["task"] == "Embeddings")["active"] is True
            # The probe found the embedder active: the examples are embedded without waiting
            # for a prompt to classify.
            wait_for(lambda: embedded(fake), "the examples embedded at start")
            plan = wait_for(
                lambda: (found := route(daemon, UNSURE))["task"] == "Research / analysis" and found,
                "the examples' index",
            )
            assert plan["task"] == "Research / analysis", plan
            assert plan["decided_by"] == "classified"
            reason = plan["classification"]["reason"]
            assert reason.startswith("similar to the examples of 'Research / analysis'")
            assert "the model alone: " in reason and "alone: Research" not in reason
            assert any("similar to the examples" in r for r in plan["reasons"])

            sent = embedded(fake)
            batches = [b for b in sent if b != [f"classification: {UNSURE}"]]
            texts = [t for b in batches for t in b]
            assert all(t.startswith("classification: ") for t in texts)
            assert len(texts) == 157  # the 156 shipped examples and the user's one
            assert "classification: rents in Lisbon since 2015" in texts

            # A model named, a task type given or an override: no classification, no embedding.
            before = len(embedded(fake))
            route(daemon, UNSURE, model="gpt-4o")
            route(daemon, UNSURE, cortex={"task": "Content drafting"})
            route(daemon, "use Opus for this: " + UNSURE)
            assert len(embedded(fake)) == before
            # A save of the user's examples is read at the next classification, no restart.
            (home / "context" / "task-examples.md").write_text(
                USER_EXAMPLES + "- vacancy rates in Porto by district\n"
            )
            wait_for(
                lambda: (
                    route(daemon, UNSURE)
                    and "classification: vacancy rates in Porto by district" in str(embedded(fake))
                ),
                "the saved examples read",
            )
            # Not recorded as calls: the ledger holds no embedding row for classification.
            stats = daemon.client().get("/v1/stats").json()
            assert "nomic-embed-text" not in str(stats)
        finally:
            daemon.stop()
            remove_home(home)

"""The client library (`cortexd.client`) answers typed objects on every endpoint: the real
application on a socket, driven through `Client`, with fake providers behind it.

Each test reads the answer's attributes (ints, `Decimal` money, tuples, nested rows) and
checks them against what the daemon did; `.json` keeps the whole answer as it came.
"""

from __future__ import annotations

import base64
import datetime
import doctest
import itertools
import json
import struct
import time
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from support.app import App
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

import cortexd.cli.common
import cortexd.client_answers
import cortexd.client_json
from cortexd.cli.calls_cmd import moved_lines
from cortexd.client import Client, DaemonError, chat_body
from cortexd.client_admin import CatalogModel, Hardware, LocalRow, ModelList, Proposals
from cortexd.client_answers import Captured, Embeddings
from cortexd.client_batches import Batch, BatchEstimate, BatchList, QueueListing
from cortexd.client_calls import Attempt, CallDetail, CallSummary, Rated
from cortexd.client_spend import Budgets, Costs, Stats, StatsRow

Fakes = tuple[FakeAnthropic, FakeOpenAI]


def _ask(client: Client, text: str, model: str) -> str:
    """A chat through `client` to `model`; the call's id."""
    answer = client.chat(chat_body([{"role": "user", "content": text}], model=model))
    assert answer.cortex.id is not None
    return answer.cortex.id


def test_a_chat_is_listed_by_calls_and_whole_by_call(app: App, fresh: Fakes) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="the answer", input_tokens=120, output_tokens=7))
    with Client(app.socket, name="typed-calls") as client:
        call_id = _ask(client, "hi", model="sonnet")
        listed = client.calls(5)
        detail = client.call(call_id[:12])  # a prefix finds it
    assert all(isinstance(c, CallSummary) for c in listed)
    mine = listed[-1]  # oldest first: the latest is last
    assert (mine.id, mine.client, mine.model, mine.provider) == (
        call_id, "typed-calls", "sonnet", "anthropic",
    )  # fmt: skip
    assert (mine.input_tokens, mine.output_tokens) == (120, 7)
    assert mine.completed and mine.outcome == "ok" and mine.result == "ok"
    assert not mine.fallback and mine.achieved is True and mine.kind == "chat"
    assert isinstance(mine.cost_usd, Decimal) and mine.cost_usd > 0
    assert mine.total_s > 0 and mine.started_at <= time.time()
    assert [c.seq for c in listed] == sorted(c.seq for c in listed)
    assert mine.json["id"] == call_id  # the whole row, as the daemon sent it
    assert isinstance(detail, CallDetail) and detail.id == call_id
    assert detail.chain[0] == "sonnet" and detail.decided_by and detail.reasons
    assert detail.routing_generation is not None and detail.routing_generation >= 1
    assert detail.finish_reason == "stop" and detail.error is None and detail.moved is None
    (attempt,) = detail.attempts
    assert isinstance(attempt, Attempt)
    assert (attempt.number, attempt.model, attempt.outcome, attempt.role) == (
        1, "sonnet", "ok", "answer",
    )  # fmt: skip
    assert attempt.cost_usd == detail.cost_usd == mine.cost_usd
    assert detail.ratings == () and detail.signals == ()


def test_a_fallback_shows_every_attempt(app: App, fresh: Fakes) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Fault.status(529), Fault.status(529))
    openai_fake.enqueue(Turn(text="from gpt-4o"))
    with Client(app.socket) as client:
        call_id = _ask(client, "Plan it", model="task:Complex reasoning")
        detail = client.call(call_id)
    assert detail.fallback and detail.model == "gpt-4o" and detail.provider == "openai"
    assert [a.outcome for a in detail.attempts] == ["error", "error", "ok"]
    assert detail.attempts[0].error is not None and "529" in detail.attempts[0].error
    assert detail.chain[0] == detail.attempts[0].model == "opus"
    assert detail.attempts[-1].model == "gpt-4o" and detail.attempts[-1].cost_usd == detail.cost_usd


def test_feedback_is_a_rating_the_call_then_carries(app: App, fresh: Fakes) -> None:
    fresh[0].enqueue(Turn(text="short"))
    with Client(app.socket) as client:
        call_id = _ask(client, "explain monads", model="haiku")
        rated = client.feedback(call_id[:10], "bad", "too short")
        detail = client.call(call_id)
        with pytest.raises(DaemonError) as missing:
            client.feedback("0" * 24, "good")
    assert isinstance(rated, Rated)
    assert (rated.call_id, rated.rating, rated.recorded) == (call_id, "bad", True)
    assert [(r.rating, r.note) for r in detail.ratings] == [("bad", "too short")]
    assert detail.achieved is False  # the rating outweighs the completed answer
    assert missing.value.status == 404


def test_stats_and_costs_after_a_chat(app: App, fresh: Fakes) -> None:
    fresh[0].enqueue(Turn(text="ok", input_tokens=100, output_tokens=10))
    with Client(app.socket, name="typed-stats") as client:
        _ask(client, "Summarize: Alice shipped login", model="task:Meeting summary")
        stats = client.stats(since="1d", by="client")
        plain = client.stats(task="Meeting summary")
        costs = client.costs()
        with pytest.raises(DaemonError) as unknown:
            client.stats(task="Meting sumary")
    assert isinstance(stats, Stats) and stats.by == "client" and stats.since < stats.until
    row = next(r for r in stats.rows if r.group == "typed-stats")
    assert isinstance(row, StatsRow)
    assert (row.task, row.model, row.provider, row.role) == (
        "Meeting summary", "sonnet", "anthropic", "answer",
    )  # fmt: skip
    assert row.tries == row.answered == 1 and row.errors == 0
    assert row.completed_rate == row.achieved_rate == 1.0
    assert (row.input_tokens, row.output_tokens) == (100, 10)
    assert row.total_s.p50 is not None and row.total_s.p50 == row.total_s.p95
    assert isinstance(row.cost_usd, Decimal) and row.cost_usd > 0
    total = next(t for t in stats.totals if t.name == "typed-stats")
    assert (total.calls, total.tries, total.cost_usd) == (1, 1, row.cost_usd)
    assert stats.spend_per_day and stats.cost_usd == sum(t.cost_usd for t in stats.totals)
    assert plain.by is None and plain.totals == () and plain.task == "Meeting summary"
    assert {r.task for r in plain.rows} == {"Meeting summary"}
    assert unknown.value.status == 404 and "Meeting summary" in str(unknown.value)
    assert isinstance(costs, Costs) and costs.days_in_month >= 28
    assert 0 < costs.days_elapsed <= costs.days_in_month
    anthropic = next(p for p in costs.providers if p.provider == "anthropic")
    assert anthropic.calls >= 1 and anthropic.cost_usd >= row.cost_usd
    assert costs.total_usd == sum(p.cost_usd for p in costs.providers)
    assert costs.projected_usd >= costs.total_usd and costs.estimated_usd == 0
    assert isinstance(costs.budgets, Budgets) and costs.budgets.month == costs.month
    assert costs.json["total_usd"] == format(costs.total_usd, "f")


def test_budgets_as_set_in_the_routing_file(app: App) -> None:
    with Client(app.socket) as client:
        before = client.budgets()
    assert isinstance(before, Budgets) and not before.any_set and before.budgets == ()
    assert before.note is not None and "no budget set" in before.note
    path = app.services.routing_path
    text = path.read_text(encoding="utf-8")
    with Client(app.socket) as client:
        spent = client.costs().total_usd
    try:
        from cortexd.routing import set_budget

        path.write_text(set_budget(text, "total", Decimal("50"), today=datetime.date.today()))
        assert app.reload()
        with Client(app.socket) as client:
            found = client.budgets()
    finally:
        path.write_text(text)
        assert app.reload()
    assert found.any_set and found.note is None and found.month == before.month
    (total,) = found.budgets
    assert (total.scope, total.limit_usd) == ("total", Decimal("50"))
    assert total.spent_usd == spent and total.reserved_usd == 0
    assert total.percent == pytest.approx(float(spent / 50 * 100), abs=0.1)
    assert total.thresholds and total.reached == () and total.at_limit
    assert total.line is not None and found.alerts == ()


def test_a_note_captured_through_the_client(app: App, fresh: Fakes) -> None:
    filing = {"title": "Client note", "category": "Ideas", "tags": ["t1"], "summary": "About."}
    fresh[0].enqueue(Turn(text=json.dumps(filing)))
    with Client(app.socket) as client:
        captured = client.capture("an idea sent by a script\n", "script.md")
    assert isinstance(captured, Captured)
    assert (captured.title, captured.category, captured.tags) == ("Client note", "ideas", ("t1",))
    assert captured.summary == "About." and captured.model is not None
    note = Path(captured.path)
    assert note.parent.name == "ideas" and note.read_text().endswith("an idea sent by a script\n")


def test_hardware_names_the_machine_and_the_local_rows(app: App) -> None:
    with Client(app.socket) as client:
        found = client.hardware()
    assert isinstance(found, Hardware)
    assert found.cpu_threads >= found.cpu_cores >= 1
    assert found.ram_total_bytes >= found.ram_available_bytes > 0
    assert found.probed_at <= time.time()
    assert found.gpus or found.gpu_note or found.apple  # a GPU, or why there is none
    assert found.local_rows is not None and found.local_rows
    assert all(isinstance(r, LocalRow) and r.task and r.model and r.why for r in found.local_rows)
    assert [r.task for r in found.local_rows] == [r["task"] for r in found.json["local_rows"]]


def test_proposals_and_a_rejection_of_none(app: App) -> None:
    with Client(app.socket) as client:
        found = client.proposals()
        with pytest.raises(DaemonError) as rejected:
            client.reject("zzzzzzzz")
    assert isinstance(found, Proposals)
    assert found.routing_file == str(app.services.routing_path)
    assert len(found.digest) == 64 and found.days > 0 and found.mode
    assert found.proposals == ()  # a few calls support no change
    assert rejected.value.status == 404


def test_models_are_the_catalog_and_the_routes(app: App) -> None:
    with Client(app.socket) as client:
        listing = client.models()
    assert isinstance(listing, ModelList)
    assert {"auto", "sonnet", "task:Meeting summary", "task:Embeddings"} <= set(listing.ids)
    sonnet = next(m for m in listing.catalog if m.alias == "sonnet")
    assert isinstance(sonnet, CatalogModel)
    assert (sonnet.provider, sonnet.model_id) == ("anthropic", "claude-sonnet-5-5")
    assert isinstance(sonnet.input_usd_per_mtok, Decimal) and sonnet.input_usd_per_mtok > 0
    assert sonnet.context_window is not None and sonnet.context_window > 0
    routes = {e.id: e.endpoint for e in listing.data if e.id.startswith("task:")}
    assert routes["task:Embeddings"] == "/v1/embeddings"
    assert routes["task:Meeting summary"] == "/v1/chat/completions"
    assert len(listing.catalog) == sum("cortex" in m for m in listing.json["data"])


def test_embeddings_as_floats_and_from_base64(app: App, fresh: Fakes) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Turn(embedding_dims=8), Turn(embedding_dims=8))
    with Client(app.socket) as client:
        body = {"model": "text-embedding-3-small", "input": ["a", "b"]}
        floats = client.embed(body)
        packed = client.embed({**body, "encoding_format": "base64"})
    assert isinstance(floats, Embeddings)
    assert floats.model == "text-embedding-3-small" and floats.prompt_tokens > 0
    assert len(floats.vectors) == 2 and floats.dimensions == 8
    assert floats.vectors[0] == tuple(floats.json["data"][0]["embedding"])
    raw = base64.b64decode(packed.json["data"][1]["embedding"])
    assert packed.dimensions == 8 and packed.vectors[1] == struct.unpack("<8f", raw)


def test_a_batch_estimated_started_and_followed(app: App, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": f"L{i}", "prompt": f"Tag #{i}", "model": "gpt-4o"}) for i in (1, 2)]
    source.write_text("\n".join([*lines, "not json"]) + "\n")
    with Client(app.socket) as client:
        estimate = client.estimate_batch(source)
        started = client.start_batch(source, tmp_path / "out.jsonl", concurrency=2)
        batch = started
        deadline = time.monotonic() + 30
        while not batch.finished and time.monotonic() < deadline:
            time.sleep(0.1)
            batch = client.batch(started.id)
        listed = client.batches()
        with pytest.raises(DaemonError) as ended:
            client.cancel_batch(started.id)
    assert isinstance(estimate, BatchEstimate)
    assert (estimate.lines, dict(estimate.per_model), estimate.unpriced_lines) == (
        3, {"gpt-4o": 2}, 0,
    )  # fmt: skip
    assert [(p.line, p.error.split(":")[0]) for p in estimate.problems] == [(3, "not JSON")]
    assert estimate.cost_usd > 0 and not estimate.provider_batch and estimate.over_budget == ()
    assert isinstance(started, Batch) and started.total == 3
    assert started.options["concurrency"] == 2 and started.output.endswith("out.jsonl")
    assert batch.state == "done" and (batch.done, batch.failed, batch.invalid) == (2, 1, 1)
    assert batch.written == 3 and batch.cost_usd > 0 and batch.finished_at is not None
    assert batch.input_tokens > 0 and batch.provider_batches == ()
    assert isinstance(listed, BatchList) and listed.batches[0].id == started.id
    assert ended.value.status == 409


def test_the_queue_listing(app: App) -> None:
    with Client(app.socket) as client:
        listed = client.queue()
    assert isinstance(listed, QueueListing) and Path(listed.folder).name == "queue"
    assert listed.pending == tuple(listed.json["pending"])
    assert listed.failed == tuple(listed.json["failed"])


def test_tail_yields_the_latest_calls_typed(app: App, fresh: Fakes) -> None:
    fresh[0].enqueue(Turn(text="one"), Turn(text="two"))
    with Client(app.socket) as client:
        ids = [_ask(client, "tail one", model="haiku"), _ask(client, "tail two", model="haiku")]
        tail = client.tail(2)
        seen = list(itertools.islice(tail, 2))
        tail.close()  # what Ctrl-C does to `cortex tail`: the stream is closed
    assert all(isinstance(c, CallSummary) for c in seen)
    assert [c.id for c in seen] == ids and seen[0].seq < seen[1].seq


def test_a_moved_session_reads_the_same_typed_or_as_json() -> None:
    data = {
        "id": "c" * 24, "started_at": 1.0, "task": "Coding", "outcome": "ok", "completed": True,
        "first_token_s": 1.5, "total_s": 4.0, "cache_read_tokens": 0,
        "moved": {
            "from_provider": "anthropic", "from_model": "sonnet", "to_provider": "openai",
            "to_model": "gpt-4o", "reason": "anthropic is down", "cache_lost_tokens": 30_000,
            "cache_lost_usd": 0.081, "before_ttft_s": 0.9,
            "turn": {"calls": 2, "total_s": 6.0, "prompt_tokens": 400, "cache_read_tokens": 100},
        },
    }  # fmt: skip
    detail = CallDetail.from_json(data)
    assert detail.moved is not None and detail.moved.turn is not None
    assert detail.moved.cache_lost_tokens == 30_000 and detail.moved.turn.cache_share == 0.25
    said = moved_lines(detail)
    assert said == moved_lines(data)
    assert "cache lost: 30,000 prompt tokens anthropic had cached ($0.08 more" in said[2]
    turn = "  the turn on openai: 2 calls, 6.00 s, 25% of their prompts read from the cache"
    assert said[3] == turn


def test_an_answer_missing_fields_reads_as_unknown() -> None:
    summary = CallSummary.from_json({"id": "x"})
    assert summary.cost_usd is None and summary.model is None and summary.input_tokens == 0
    assert Stats.from_json({}).rows == () and Costs.from_json({}).budgets is None
    assert Hardware.from_json({}).local_rows is None


@pytest.mark.parametrize(
    "module", [cortexd.client_json, cortexd.client_answers, cortexd.cli.common]
)
def test_the_examples_in_the_docstrings(module: ModuleType) -> None:
    failed, tried = doctest.testmod(module)
    assert tried > 0 and failed == 0

"""One truth for spend (issue 20, section 5).

A stream cut short is on record with what it used (estimated, flagged, priced), never a
silent 0; the budgets' settled spend is the ledger's, so ``GET /v1/budgets``, ``GET
/v1/costs``, the ledger and a restarted daemon agree to the cent, with calls in flight shown
apart; a cross-validated answer shows the whole call's cost and its second opinion and
judge are labelled in the task × model figures and kept out of the proposals' evidence; a
reload that lowers a budget below spend alerts at once.

Providers are the fakes; the application runs in-process, except for the one restart.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.app import App, start_app
from support.daemon import Daemon, cloud_env, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.waiting import wait_for

from cortexd.context.paths import default_routing_text
from cortexd.ledger import MIGRATIONS, call_views, migrate, queries
from cortexd.ledger.bookkeeping import month_spend
from cortexd.ledger.evidence import evidence
from cortexd.ledger.months import Month
from cortexd.ledger.records import from_pico
from cortexd.routing.dispatch import estimate_tokens
from cortexd.routing.dispatch.tally import StreamTally
from cortexd.routing.providers import (
    ChatMessage,
    ChatRequest,
    Forward,
    RawEvent,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
)

BUDGETS = (
    "\n## Budgets\n\n| Provider | Monthly limit | Alerts | At 100% |\n|---|---|---|---|\n"
    "| anthropic | $500 | 80% | continue |\n| total | $900 | 80% | continue |\n"
)
STORY = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]


# --- the tally of a stream cut short (pure) ---------------------------------------------------


def _frame(event: str, payload: dict[str, Any]) -> RawEvent:
    return RawEvent(f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode())


def _request(wire: str | None = None) -> ChatRequest:
    forward = Forward(wire, {"model": "m"}) if wire else None  # type: ignore[arg-type]
    return ChatRequest("m", (ChatMessage.of("user", "word " * 700),), forward=forward)


def test_a_translated_stream_counts_its_characters_and_estimates_its_prompt() -> None:
    request = _request()
    tally = StreamTally(request)
    tally.feed(TextDelta("a" * 100))
    tally.feed(ToolCallDelta(0, "call_1", "search", '{"q": "lighthouse"}'))
    tally.feed(ReasoningDelta("t" * 35))
    usage = tally.usage()
    written = 100 + len("search") + len('{"q": "lighthouse"}')
    assert usage.input_tokens == estimate_tokens(request) > 0
    assert usage.output_tokens == math.ceil(written / 3.5) + 10
    assert usage.reasoning_tokens == 10


def test_a_forwarded_messages_stream_takes_the_providers_prompt_count() -> None:
    tally = StreamTally(_request("messages"))
    start = {"type": "message_start", "message": {"model": "claude", "usage": {
        "input_tokens": 900, "cache_read_input_tokens": 4000, "output_tokens": 1}}}  # fmt: skip
    tally.feed(_frame("message_start", start))
    for piece in ("Once upon ", "a time, ", "a keeper."):
        delta = {"type": "text_delta", "text": piece}
        tally.feed(_frame("content_block_delta", {"type": "content_block_delta", "delta": delta}))
    usage = tally.usage()
    assert (usage.input_tokens, usage.cache_read_tokens) == (4900, 4000)
    assert usage.output_tokens == math.ceil(len("Once upon a time, a keeper.") / 3.5)


def test_a_forwarded_responses_stream_counts_its_deltas_once() -> None:
    tally = StreamTally(_request("responses"))
    text = "The keeper lit the lamp."
    tally.feed(_frame("response.created", {"type": "response.created", "response": {}}))
    tally.feed(_frame("response.output_text.delta",
                      {"type": "response.output_text.delta", "delta": text}))  # fmt: skip
    # The part's end repeats the whole text: it is not written twice.
    tally.feed(_frame("response.output_text.done",
                      {"type": "response.output_text.done", "text": text}))  # fmt: skip
    tally.feed(RawEvent(b"data: {not json\n\n"))  # a frame that cannot be read counts nothing
    assert tally.usage().output_tokens == math.ceil(len(text) / 3.5)


# --- through the application ---------------------------------------------------------------


@pytest.fixture(scope="module")
def budgeted(fakes: tuple[FakeAnthropic, FakeOpenAI]) -> Iterator[App]:
    """The application with anthropic and total budgets, far from their limits."""
    home = short_home()
    (home / "context").mkdir(parents=True)
    (home / "context" / "model-routing.md").write_text(default_routing_text() + BUDGETS)
    running = start_app(home, cloud_env(*fakes))
    yield running
    running.stop()
    remove_home(home)


def _json(app: App | Daemon, path: str) -> dict[str, Any]:
    answer = app.client().get(path)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _ledger_total(db_path: Path) -> Decimal:
    """The month's spend as the ledger's own rows sum it."""
    db = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    try:
        spent = month_spend(db, month=Month.of(time.time()))
    finally:
        db.close()
    return from_pico(sum(spent.values())) or Decimal(0)


def _agree(app: App | Daemon, db_path: Path) -> Decimal:
    """The settled spend, after checking that every place that shows it says the same."""
    budgets = _json(app, "/v1/budgets")
    costs = _json(app, "/v1/costs")
    shown = {b["scope"]: Decimal(b["spent_usd"]) for b in budgets["budgets"]}
    by_provider = {p["provider"]: Decimal(p["cost_usd"]) for p in costs["providers"]}
    ledger = _ledger_total(db_path)
    assert Decimal(costs["total_usd"]) == ledger == shown["total"]
    assert by_provider.get("anthropic", Decimal(0)) == shown["anthropic"]
    assert costs["budgets"]["budgets"] == budgets["budgets"]
    return ledger


def _settled(app: App | Daemon) -> bool:
    return Decimal(_json(app, "/v1/budgets")["reserved_usd"]) == 0


def _last_id(app: App | Daemon) -> str:
    call_id: str = _json(app, "/v1/calls?limit=1")["data"][-1]["id"]
    return call_id


def _break_streams(app: App | Daemon, fake: FakeAnthropic, n: int) -> tuple[list[str], list[str]]:
    """`n` streams that break after their first tokens, alternately through Chat
    Completions (translated) and the Messages API (passed through), each followed by an
    answered stream (three failures in a row would open the model's circuit); the broken
    calls' ids, and every call's."""
    broken, every = [], []
    for i in range(n):
        if i % 2:
            body = {"model": "sonnet", "max_tokens": 400, "stream": True, "messages": STORY}
            path = "/v1/messages"
        else:
            body = {"model": "sonnet", "stream": True, "messages": STORY}
            path = "/v1/chat/completions"
        fake.enqueue(Fault.break_stream(after=3), Turn())
        for _ in ("broken", "answered"):
            with app.client().stream("POST", path, json=body) as response:
                assert response.status_code == 200
                b"".join(response.iter_bytes())
            every.append(_last_id(app))
        broken.append(every[-2])
    return broken, every


def _db(app: App) -> Path:
    return app.services.ledger.path


def test_broken_streams_are_on_record_and_every_figure_agrees_to_the_cent(
    budgeted: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    before = _agree(budgeted, _db(budgeted))
    ids, every = _break_streams(budgeted, anthropic_fake, 4)
    wait_for(lambda: _settled(budgeted), "the calls' holds to end")
    for call_id in ids:
        call = _json(budgeted, f"/v1/calls/{call_id}")
        assert call["outcome"] == "partial" and call["usage_estimated"] is True
        assert call["input_tokens"] > 0 and call["output_tokens"] > 0
        assert Decimal(call["cost_usd"]) > 0
        (tried,) = [a for a in call["attempts"] if a["outcome"] == "partial"]
        assert tried["usage_estimated"] is True and tried["cost_usd"] == call["cost_usd"]
    after = _agree(budgeted, _db(budgeted))
    spent = sum(Decimal(_json(budgeted, f"/v1/calls/{i}")["cost_usd"]) for i in every)
    estimated = sum(Decimal(_json(budgeted, f"/v1/calls/{i}")["cost_usd"]) for i in ids)
    assert after - before == spent > estimated > 0
    assert Decimal(_json(budgeted, "/v1/costs")["estimated_usd"]) >= estimated


def test_the_provider_count_of_a_passed_through_stream_is_kept(
    budgeted: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    (call_id,) = _break_streams(budgeted, anthropic_fake, 2)[0][1:]
    call = _json(budgeted, f"/v1/calls/{call_id}")
    # The fake's message_start says 12 prompt tokens: no estimate replaces the provider's.
    assert call["input_tokens"] == 12 and call["usage_estimated"] is True


def test_a_client_that_leaves_mid_stream_is_counted_too(
    budgeted: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    before = _agree(budgeted, _db(budgeted))
    anthropic_fake.enqueue(Turn(text="word " * 200, chunk_delay=0.05))
    body = {"model": "sonnet", "stream": True, "messages": STORY}
    with budgeted.socket_client().stream("POST", "/v1/chat/completions", json=body) as response:
        next(response.iter_bytes())  # the first tokens, then the client hangs up

    def cancelled() -> dict[str, Any] | None:
        last: dict[str, Any] = _json(budgeted, "/v1/calls?limit=1")["data"][-1]
        return last if last["outcome"] == "cancelled" else None

    call = wait_for(cancelled, "the cancelled call on record")
    wait_for(lambda: _settled(budgeted), "its hold to end")
    assert call["usage_estimated"] is True and Decimal(call["cost_usd"]) > 0
    assert _agree(budgeted, _db(budgeted)) - before == Decimal(call["cost_usd"])


def test_a_cross_validated_answer_shows_what_the_whole_call_cost(
    budgeted: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    verdict = '{"agree": true, "differences": [], "summary": "Both say 4."}'
    anthropic_fake.enqueue(Turn(text="4", input_tokens=300, output_tokens=20),
                           Turn(text=verdict, input_tokens=900, output_tokens=40))  # fmt: skip
    openai_fake.enqueue(Turn(text="It is 4.", input_tokens=300, output_tokens=30))
    answer = budgeted.sdk().chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "2 + 2?"}],
        extra_body={"cortex": {"second_opinion": True, "task": "Code review"}},
    )
    block = (answer.model_extra or {})["cortex"]
    assert block["second_opinion"]["status"] == "agree"
    call = _json(budgeted, f"/v1/calls/{block['id']}")
    tries = [a for a in call["attempts"] if a["outcome"] != "skipped"]
    roles = {(a["model"], a["role"]) for a in tries}
    assert roles == {("sonnet", "answer"), ("gpt-4o", "second opinion"), ("haiku", "judge")}
    whole = sum(Decimal(a["cost_usd"]) for a in tries)
    main = sum(Decimal(a["cost_usd"]) for a in tries if a["role"] == "answer")
    assert Decimal(block["cost_usd"]) == Decimal(call["cost_usd"]) == whole > main > 0

    # The task × model table labels the extra tries; the proposals never see them.
    rows = _json(budgeted, "/v1/stats?task=Code review")["rows"]
    labelled = {(r["model"], r["role"]) for r in rows}
    assert {("gpt-4o", "second opinion"), ("haiku", "judge")} <= labelled
    judge = next(r for r in rows if r["role"] == "judge")
    assert judge["completed_rate"] is None and judge["achieved_rate"] is None
    now = time.time()
    found = budgeted.services.ledger.read_now(evidence, since=now - 3600, until=now + 1)
    assert {(m.task, m.model) for m in found.models if m.task == "Code review"} == {
        ("Code review", "sonnet")
    }


def _checks(app: App) -> int:
    runs: int = _json(app, "/v1/health")["jobs"]["budget-check"]["runs"]
    return runs


def test_a_reload_that_lowers_a_budget_below_spend_alerts_at_once(
    fakes: tuple[FakeAnthropic, FakeOpenAI],
) -> None:
    anthropic_fake, _ = fakes
    anthropic_fake.clear()
    home = short_home()
    (home / "context").mkdir(parents=True)
    routing = home / "context" / "model-routing.md"
    routing.write_text(default_routing_text() + BUDGETS)
    app = start_app(home, cloud_env(*fakes))
    alerts = home / "context" / "alerts.md"
    try:
        anthropic_fake.enqueue(Turn(text="ok", input_tokens=1000, output_tokens=1000))
        app.sdk().chat.completions.create(model="sonnet", messages=STORY)
        wait_for(lambda: _checks(app) >= 1, "the start-up check")
        assert not alerts.exists()
        # The next scheduled check is 15 minutes away: only the reload can bring the alert.
        routing.write_text(
            routing.read_text().replace("| anthropic | $500 |", "| anthropic | $0.001 |")
        )
        assert app.reload()
        wait_for(lambda: alerts.exists() and "anthropic budget past 80%" in alerts.read_text(),
                 "the alert after the reload", timeout=10)  # fmt: skip
        sent = _json(app, "/v1/budgets")["alerts"]
        assert [(a["scope"], a["threshold"]) for a in sent] == [("anthropic", 80)]
    finally:
        app.stop()
        remove_home(home)


def test_old_rows_keep_their_meaning_under_the_new_columns() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, upto=len(MIGRATIONS) - 1)
    db.execute(
        "INSERT INTO calls (id, started_at, kind, task, decided_by, chain, reasons, fallback,"
        " local_only, stream, outcome, completed, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, reasoning_tokens, total_s, price_unknown)"
        " VALUES ('c', ?, 'chat', 'Code review', 'task-given', '[]', '[]', 0, 0, 0, 'ok', 1,"
        " 1, 1, 0, 0, 0, 0.1, 0)",
        (time.time(),),
    )
    for seq, model, second in ((0, "sonnet", 0), (1, "haiku", 1)):
        db.execute(
            "INSERT INTO attempts (call_id, seq, number, provider, model, model_id, outcome,"
            " fallback, retry, second_opinion, input_tokens, output_tokens, cache_read_tokens,"
            " cache_write_tokens, reasoning_tokens, started_s, total_s, cost_pico_usd,"
            " price_unknown) VALUES ('c', ?, 1, 'anthropic', ?, ?, 'ok', 0, 0, ?, 1, 1, 0, 0,"
            " 0, 0, 0.1, 1000, 0)",
            (seq, model, model, second),
        )
    assert migrate(db) == [MIGRATIONS[-1][0]]
    now = time.time()
    rows = queries.stats(db, since=now - 60, until=now + 60)["rows"]
    # Which of the two an old extra try was is not known: it says so.
    assert {(r["model"], r["role"]) for r in rows} == {
        ("sonnet", "answer"),
        ("haiku", "cross-check"),
    }
    call = call_views.why(db, "c")
    assert call is not None and call["usage_estimated"] is False


# --- a real daemon, restarted ----------------------------------------------------------------


def test_a_restarted_daemon_agrees_with_the_ledger_to_the_cent(
    fakes: tuple[FakeAnthropic, FakeOpenAI],
) -> None:
    anthropic_fake, _ = fakes
    anthropic_fake.clear()
    home = short_home()
    (home / "context").mkdir(parents=True)
    (home / "context" / "model-routing.md").write_text(default_routing_text() + BUDGETS)
    env = cloud_env(*fakes)
    daemon = start_daemon(home, env)
    try:
        broken, _ = _break_streams(daemon, anthropic_fake, 3)
        wait_for(lambda: _settled(daemon), "the calls' holds to end")
        db_path = next(home.rglob("*.sqlite3"))
        spent = _agree(daemon, db_path)
        estimated = sum(Decimal(_json(daemon, f"/v1/calls/{i}")["cost_usd"]) for i in broken)
        assert spent > estimated > 0
    finally:
        daemon.stop()
    again = start_daemon(home, env)
    try:
        assert _agree(again, db_path) == spent
        assert Decimal(_json(again, "/v1/costs")["estimated_usd"]) == estimated > 0
    finally:
        again.stop()
        remove_home(home)

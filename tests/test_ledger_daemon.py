"""The ledger through the real application, in-process: calls on record, stats, costs, why,
ratings, report.

Clients are the official openai SDK and the `cortex` CLI; providers are the fakes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from decimal import Decimal
from typing import Any

import openai
import pytest
from support.app import App, start_app
from support.canary import ANTHROPIC_KEY, OPENAI_KEY
from support.cli import CORTEX, cortex
from support.daemon import remove_home
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.waiting import wait_for

KEY_A, KEY_O = ANTHROPIC_KEY, OPENAI_KEY


def why(app: App, call_id: str) -> dict[str, Any]:
    answer = app.client().get(f"/v1/calls/{call_id}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def latest(app: App) -> dict[str, Any]:
    """The last call the daemon recorded."""
    result: dict[str, Any] = app.client().get("/v1/calls", params={"limit": 1}).json()["data"][-1]
    return result


def ask(sdk: openai.OpenAI, prompt: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    completion = sdk.chat.completions.create(
        messages=[{"role": "user", "content": prompt}], **{"model": "sonnet", **extra}
    )
    block = (completion.model_extra or {})["cortex"]
    return block["id"], block


def test_a_call_is_on_record_with_tokens_timings_and_cost(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(
        Turn(text="Done.", input_tokens=1200, output_tokens=30, cache_read_tokens=1000)
    )
    call_id, block = ask(sdk, "Summarize: the standup went fine.", model="task:Meeting summary")
    call = why(app, call_id)
    assert call["task"] == "Meeting summary" and call["decided_by"] == "task-given"
    assert call["model"] == "sonnet" and call["provider"] == "anthropic"
    assert call["outcome"] == "ok" and call["completed"] is True and call["achieved"] is True
    assert (call["input_tokens"], call["output_tokens"], call["cache_read_tokens"]) == (
        1200,
        30,
        1000,
    )
    assert call["total_s"] > 0 and call["first_token_s"] is not None
    assert call["first_token_s"] <= call["total_s"]
    # The cost on record is the one the answer carried, to the last digit.
    assert Decimal(call["cost_usd"]) == Decimal(block["cost_usd"]) > 0
    assert [a["outcome"] for a in call["attempts"]] == ["ok"]
    assert call["client"] == "OpenAI/Python"
    assert any("Routing Table row 'Meeting summary'" in r for r in call["reasons"])


def test_a_stream_is_committed_before_its_last_byte(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="one two three", input_tokens=20, output_tokens=3))
    # On the socket, where the stream is read as it comes.
    sdk = openai.OpenAI(
        base_url="http://cortexd/v1", api_key="unused", http_client=app.socket_client()
    )
    stream = sdk.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Count"}], stream=True
    )
    call_id = None
    for chunk in stream:
        block = (chunk.model_extra or {}).get("cortex")
        if block:
            call_id = block["id"]
            # Still inside the stream: [DONE] has not been read, yet the call is on record.
            call = why(app, call_id)
            assert call["outcome"] == "ok" and call["stream"] is True
            assert call["output_tokens"] == 3 and call["first_token_s"] is not None
    assert call_id is not None


def test_a_fallback_records_every_attempt(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Fault.status(529), Fault.status(529))
    openai_fake.enqueue(Turn(text="from codex"))
    call_id, block = ask(sdk, "Write a function", model="task:Code generation")
    assert block["fallback"] is True
    call = why(app, call_id)
    assert call["fallback"] is True and call["model"] == "codex"
    outcomes = [(a["model"], a["outcome"]) for a in call["attempts"]]
    assert outcomes[-1] == ("codex", "ok")
    assert ("sonnet", "error") in outcomes
    assert all("OverloadedError" in a["error"] for a in call["attempts"] if a["outcome"] == "error")


def test_a_failed_call_is_recorded_and_the_client_gets_503(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(*[Fault.status(500)] * 2)
    with pytest.raises(openai.APIStatusError) as raised:
        ask(sdk, "Say hi", model="haiku")  # a named model: no fallback
    assert raised.value.status_code == 503
    last = latest(app)
    assert last["outcome"] == "error" and last["decided_by"] == "explicit-model"
    assert last["completed"] is False and last["achieved"] is False
    call = why(app, last["id"])
    assert "ChainExhausted" in call["error"]


def test_a_broken_stream_is_recorded_as_partial(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Fault.break_stream(after=2))
    stream = sdk.chat.completions.create(
        model="opus", messages=[{"role": "user", "content": "Tell me"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)
    last = latest(app)
    assert last["outcome"] == "partial" and last["completed"] is False


def test_json_that_does_not_parse_is_not_completed(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="Sure! {not json"))
    call_id, _ = ask(sdk, "List the colors", response_format={"type": "json_object"})
    call = why(app, call_id)
    assert call["json_requested"] is True and call["json_valid"] is False
    assert call["completed"] is False and call["achieved"] is False
    assert [s["signal"] for s in call["signals"]] == ["invalid_json"]


def test_asking_again_marks_the_first_answer(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="meh"), Turn(text="better"))
    first, _ = ask(sdk, "Name three  rivers in France")
    second, _ = ask(sdk, "name three rivers in france")
    assert [s["signal"] for s in why(app, first)["signals"]] == ["asked_again"]
    assert why(app, first)["achieved"] is False
    assert why(app, second)["signals"] == [] and why(app, second)["achieved"] is True


def test_a_rating_outweighs_the_signals(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="x"), Turn(text="y"))
    first, _ = ask(sdk, "Rate me please")
    ask(sdk, "Rate me please")
    assert why(app, first)["achieved"] is False
    answer = app.client().post(
        "/v1/feedback", json={"call_id": first, "rating": "good", "note": "it was fine"}
    )
    assert answer.status_code == 200 and answer.json()["recorded"] is True
    call = why(app, first)
    assert call["achieved"] is True
    assert call["ratings"][0]["note"] == "it was fine"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"call_id": "0" * 24, "rating": "good"}, 404, None),
        ({"call_id": "abc", "rating": "meh"}, 400, "rating"),
        ({"rating": "good"}, 400, "call_id"),
    ],
)
def test_bad_feedback_gets_an_openai_error(
    app: App, body: dict[str, str], status: int, param: str | None
) -> None:
    answer = app.client().post("/v1/feedback", json=body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["message"] and error["param"] == param


def test_stats_and_costs_over_the_api(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    anthropic_fake.enqueue(Turn(text="ok", input_tokens=100, output_tokens=10))
    ask(
        sdk,
        "Quick one",
        model="task:Quick capture / filing",
        extra_body={"cortex": {"project": "p1"}},
    )
    stats = app.client().get("/v1/stats", params={"since": "1d", "by": "project"}).json()
    row = next(r for r in stats["rows"] if r["task"] == "Quick capture / filing")
    assert row["model"] == "haiku" and row["project"] == "p1" and row["tries"] >= 1
    assert row["completed_rate"] == 1.0 and Decimal(row["cost_usd"]) > 0
    assert row["total_s"]["p50"] is not None
    assert stats["spend_per_day"][-1]["day"] == time.strftime("%Y-%m-%d")
    only = app.client().get("/v1/stats", params={"task": "quick capture / filing"}).json()
    assert {r["task"] for r in only["rows"]} == {"Quick capture / filing"}
    costs = app.client().get("/v1/costs").json()
    assert costs["month"] == time.strftime("%Y-%m")
    anthropic = next(p for p in costs["providers"] if p["provider"] == "anthropic")
    assert Decimal(anthropic["cost_usd"]) > 0
    assert Decimal(costs["projected_usd"]) >= Decimal(costs["total_usd"]) > 0


def test_what_each_client_cost_and_used(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    for tokens in (40, 10, 50, 30, 20):
        fresh[0].enqueue(Turn(text="ok", input_tokens=100, output_tokens=tokens))
        ask(sdk, "Per client", extra_body={"cortex": {"client": "claude-cli"}})
    # Each answered call is seen: the next budget reservation sizes this client's calls.
    assert app.services.recent_outputs.outputs("claude-cli") == (40, 10, 50, 30, 20)
    assert app.services.recent_outputs.typical("claude-cli") == 50
    stats = app.client().get("/v1/stats", params={"since": "1d", "by": "client"}).json()
    mine = next(t for t in stats["totals"] if t["client"] == "claude-cli")
    assert (mine["calls"], mine["output_tokens"]) == (5, 150) and Decimal(mine["cost_usd"]) > 0
    assert any(r["client"] == "claude-cli" for r in stats["rows"])
    by_session = app.client().get("/v1/stats", params={"since": "1d", "by": "session"}).json()
    assert by_session["by"] == "session" and None in {t["session"] for t in by_session["totals"]}
    shown = cortex(app.socket, "stats", "--since", "1d", "--by", "client")
    assert shown.returncode == 0, shown.stderr
    assert "cost per client" in shown.stdout and "claude-cli" in shown.stdout
    listed = cortex(app.socket, "calls", "-n", "2", "--json")
    assert listed.returncode == 0, listed.stderr
    calls = json.loads(listed.stdout)
    assert [(c["client"], c["session"], c["output_tokens"]) for c in calls] == [
        ("claude-cli", None, 30),
        ("claude-cli", None, 20),
    ]
    table = cortex(app.socket, "calls", "-n", "2")
    assert table.returncode == 0, table.stderr
    assert "session" in table.stdout and "claude-cli" in table.stdout


@pytest.mark.parametrize(
    ("params", "param"),
    [({"since": "yesterdayish"}, "since"), ({"by": "color"}, "by"), ({"by": "turn"}, "by")],
)
def test_bad_stats_queries_get_400(app: App, params: dict[str, str], param: str) -> None:
    answer = app.client().get("/v1/stats", params=params)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_stats_for_a_task_type_no_one_has_says_which_was_meant(app: App) -> None:
    answer = app.client().get("/v1/stats", params={"task": "Meting sumary"})
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["param"] == "task" and error["code"] == "unknown_task"
    assert "did you mean 'Meeting summary'?" in error["message"]
    shown = cortex(app.socket, "stats", "--task", "Meting sumary")
    assert shown.returncode == 1 and "did you mean 'Meeting summary'?" in shown.stderr
    # A task type the file names is an empty table, not an error.
    assert app.client().get("/v1/stats", params={"task": "code review"}).status_code == 200


def test_an_unknown_call_is_404_and_a_prefix_finds_one(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fresh[0].enqueue(Turn(text="hi"))
    call_id, _ = ask(sdk, "Prefix test")
    assert app.client().get("/v1/calls/nosuchcall").status_code == 404
    assert why(app, call_id[:10])["id"] == call_id


def test_the_cli_shows_stats_costs_why_and_rates(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fresh[0].enqueue(Turn(text="hi", input_tokens=50, output_tokens=5))
    call_id, _ = ask(sdk, "CLI test", model="task:Meeting summary")
    stats = cortex(app.socket, "stats", "--since", "1d")
    assert stats.returncode == 0, stats.stderr
    assert "Meeting summary" in stats.stdout and "sonnet (anthropic)" in stats.stdout
    assert "spend per day" in stats.stdout
    costs = cortex(app.socket, "costs")
    assert costs.returncode == 0 and "anthropic" in costs.stdout and "total" in costs.stdout
    shown = cortex(app.socket, "why", call_id[:12])
    assert shown.returncode == 0, shown.stderr
    assert call_id in shown.stdout and "Routing Table row 'Meeting summary'" in shown.stdout
    rated = cortex(app.socket, "rate", call_id, "bad", "--note", "too short")
    assert rated.returncode == 0 and f"rated {call_id} bad" in rated.stdout
    assert why(app, call_id)["achieved"] is False
    missing = cortex(app.socket, "why", "0" * 24)
    assert missing.returncode == 1 and "no call" in missing.stderr


def test_cortex_tail_prints_calls_as_they_happen(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    env = {**os.environ, "CORTEX_SOCKET": str(app.socket)}
    tail = subprocess.Popen(
        [CORTEX, "tail", "-n", "1", "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert tail.stdout is not None
        json.loads(tail.stdout.readline())  # the latest past call comes first
        fresh[0].enqueue(Turn(text="live"))
        call_id, _ = ask(sdk, "Tail test")
        live = json.loads(tail.stdout.readline())
        assert live["id"] == call_id and live["outcome"] == "ok"
    finally:
        tail.terminate()
        tail.wait(10)
        if tail.stdout is not None:
            tail.stdout.close()


def test_the_report_shows_the_calls(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fresh[0].enqueue(Turn(text="hi"))
    call_id, _ = ask(sdk, "Report test", model="task:Security audit")
    report = app.home / "context" / "model-performance.md"
    wait_for(lambda: report.exists() and call_id[:12] in report.read_text(), "the report")
    text = report.read_text()
    assert call_id[:12] in text
    assert "| Security audit | opus (anthropic) |" in text
    assert "## Spend in " + time.strftime("%Y-%m") in text


def test_health_reports_the_ledger(app: App) -> None:
    ledger = app.client().get("/v1/health").json()["ledger"]
    assert ledger["commits"] >= 1 and ledger["failures"] == 0 and ledger["queued"] == 0
    assert ledger["commit_wait_ms"]["p50"] is not None


def test_embeddings_calls_are_recorded(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    result = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2
    last = latest(app)
    assert last["kind"] == "embeddings" and last["task"] == "Embeddings"
    assert last["model"] == "text-embedding-3-small" and last["outcome"] == "ok"
    assert last["input_tokens"] > 0 and last["cost_usd"] is not None
    refused = app.client().post("/v1/embeddings", json={"model": "sonnet", "input": "x"})
    assert refused.status_code == 400
    failed = latest(app)
    assert failed["kind"] == "embeddings" and failed["outcome"] == "error"


def test_a_key_the_provider_echoes_is_never_stored(
    app: App, sdk: openai.OpenAI, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(
        Fault.status(
            401, message=f"Incorrect API key provided: {KEY_O}.", error_code="invalid_api_key"
        )
    )
    with pytest.raises(openai.APIStatusError):
        ask(sdk, "hello", model="gpt-4o")
    last = latest(app)
    call = why(app, last["id"])
    assert "AuthenticationError" in call["attempts"][0]["error"]
    stored = b"".join(p.read_bytes() for p in (app.home / "state").glob("ledger.sqlite3*"))
    assert KEY_O.encode() not in stored and KEY_O[-16:].encode() not in stored


def test_a_client_that_leaves_mid_stream_is_recorded_as_cancelled(
    app: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    fresh[0].enqueue(Turn(text="word " * 200, chunk_delay=0.05))
    body = {
        "model": "sonnet",
        "messages": [{"role": "user", "content": "Go slowly"}],
        "stream": True,
    }
    # On the socket: the client hangs up on its connection in the middle of the stream.
    with app.socket_client().stream("POST", "/v1/chat/completions", json=body) as answer:
        first = next(answer.iter_lines())
    assert first.startswith("data: ")
    call_id = json.loads(first[6:])["id"].removeprefix("chatcmpl-")
    found = wait_for(
        lambda: (r := app.client().get(f"/v1/calls/{call_id}")).status_code == 200 and r,
        "the call on record",
    )
    call = found.json()
    assert call["outcome"] == "cancelled" and call["completed"] is False
    assert [a["outcome"] for a in call["attempts"]] == ["cancelled"]


def test_prompts_are_stored_only_when_asked(anthropic_fake: FakeAnthropic) -> None:
    env = {"ANTHROPIC_API_KEY": KEY_A, "ANTHROPIC_BASE_URL": anthropic_fake.base_url}
    running = start_app(env=env, keep_prompts_days=7)
    home = running.home
    try:
        anthropic_fake.enqueue(Turn(text="Paris."))
        body = {"model": "haiku", "messages": [{"role": "user", "content": "Capital of France?"}]}
        answer = running.client().post("/v1/chat/completions", json=body)
        call_id = answer.json()["cortex"]["id"]
        assert running.client().get("/v1/health").json()["ledger"]["keeps_prompts_days"] == 7
    finally:
        running.stop()
    db = sqlite3.connect(home / "state" / "ledger.sqlite3")
    try:
        rows = db.execute("SELECT call_id, prompt, answer FROM contents").fetchall()
    finally:
        db.close()
    remove_home(home)
    assert rows == [(call_id, "Capital of France?", "Paris.")]


@pytest.mark.parametrize(
    ("text", "valid"), [('{"colors": ["red"]}', True), ('{"colours": "red"}', False)]
)
def test_structured_output_is_checked_against_its_schema(
    app: App,
    sdk: openai.OpenAI,
    fresh: tuple[FakeAnthropic, FakeOpenAI],
    text: str,
    valid: bool,
) -> None:
    fresh[0].enqueue(Turn(text=text))
    schema = {
        "type": "object",
        "properties": {"colors": {"type": "array", "items": {"type": "string"}}},
        "required": ["colors"],
    }
    call_id, _ = ask(
        sdk,
        "List colors",
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    )
    call = why(app, call_id)
    assert call["json_valid"] is valid and call["completed"] is valid
    assert [s["signal"] for s in call["signals"]] == ([] if valid else ["invalid_json"])

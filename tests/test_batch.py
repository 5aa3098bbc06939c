"""Batches (issue 23): `cortex batch run`'s daemon side, over the real application.

Lines in both forms and all four endpoints run through the fakes with injected 429s and
500s; the output holds one line per input line, in order; bad lines are reported with
their line numbers and stop nothing; a run resumes from its journal; the estimate names
the lines that will fail and the budgets a batch would pass.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import App, start_app
from support.batches import cloud_app, openai_line, read_jsonl, start_batch, wait_done
from support.daemon import cloud_env
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.waiting import wait_for

from cortexd.batch.lines import parse_lines
from cortexd.ledger.migrations import migrate


def _short(i: int, model: str) -> str:
    return json.dumps({"id": f"q{i}", "prompt": f"Summarize: item {i} shipped", "model": model})


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{", "not JSON: Expecting property name enclosed in double quotes at column 2"),
        ("[1]", "a line must be a JSON object"),
        ('{"id": "a"}', "give either prompt or messages"),
        ('{"id": "a", "prompt": "x", "messages": []}', "give either prompt or messages"),
        ('{"id": "", "prompt": "x"}', "id must be a non-empty string"),
        ('{"id": "a", "promt": "x"}', "unknown key 'promt'; did you mean 'prompt'?"),
        ('{"custom_id": "a", "url": "/v1/chat/completions", "body": 3}', "body must be a JSON"),
        ('{"custom_id": "a", "url": "/v1/files", "body": {}}', "url must be one of"),
        ('{"custom_id": "a", "method": "GET", "url": "/v1/responses", "body": {}}', "method must"),
        ('{"url": "/v1/responses", "body": {}}', "custom_id must be a non-empty string"),
    ],
)
def test_a_bad_line_is_reported_with_why(line: str, error: str) -> None:
    (parsed,) = parse_lines([line], 10_000)
    assert parsed.error is not None and parsed.error.startswith(error)
    assert parsed.line_no == 1


def test_line_numbers_count_blank_lines_and_a_duplicate_id_is_that_lines_error() -> None:
    parsed = parse_lines(['{"id": "a", "prompt": "x"}', "", '{"id": "a", "prompt": "y"}'], 100)
    assert [(p.seq, p.line_no, p.error) for p in parsed] == [
        (0, 1, None),
        (1, 3, "duplicate id 'a' (first on line 1)"),
    ]


def test_a_line_over_the_size_limit_is_refused_unread() -> None:
    (parsed,) = parse_lines([json.dumps({"id": "a", "prompt": "x" * 500})], 100)
    assert parsed.error is not None and parsed.error.startswith("line too long")


def test_the_short_form_becomes_a_chat_body_with_its_task_and_model() -> None:
    line = {"id": "a", "prompt": "hi", "task": "Bulk operations", "model": "haiku", "system": "s"}
    (parsed,) = parse_lines([json.dumps(line)], 1000)
    assert parsed.url == "/v1/chat/completions"
    assert parsed.body == {
        "model": "haiku",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
        "cortex": {"task": "Bulk operations"},
    }


# --- running ---------------------------------------------------------------------------------


@pytest.fixture
def fresh_app() -> Iterator[tuple[App, FakeAnthropic, FakeOpenAI]]:
    with cloud_app() as running:
        yield running


def test_every_line_is_answered_or_reported_in_order_through_429s_and_500s(
    fresh_app: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, anthropic, openai = fresh_app
    lines = [_short(i, "sonnet" if i % 2 else "gpt-4o") for i in range(60)]
    lines[10] = "not json at all"
    lines[20] = json.dumps({"id": "q5", "prompt": "a duplicate id"})
    lines[30] = json.dumps({"id": "unknown", "prompt": "x", "model": "gemini-9"})
    lines += [
        openai_line(
            "m1",
            "/v1/messages",
            {"model": "haiku", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        ),
        openai_line("r1", "/v1/responses", {"model": "gpt-4o", "input": "hi"}),
        openai_line(
            "c1",
            "/v1/chat/completions",
            {"model": "opus", "messages": [{"role": "user", "content": "hi"}]},
        ),
        openai_line("e1", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
    ]
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(lines) + "\n")
    limited = Fault.status(429, headers={"retry-after": "0"})
    # More failures than dispatch's own retries and fallback absorb: the batch retries lines.
    anthropic.enqueue(*[limited] * 6, *[Fault.status(500)] * 4, *[Fault.status(529)] * 3)
    openai.enqueue(*[limited] * 8, *[Fault.status(500)] * 4)
    started = start_batch(app, source, output, concurrency=8)
    final = wait_done(app, started["id"])
    out = read_jsonl(output)
    assert len(out) == len(lines) and final["state"] == "done" and final["written"] == 64
    ids = [o.get("id") if "custom_id" not in o else o["custom_id"] for o in out]
    assert ids[:10] == [f"q{i}" for i in range(10)]
    assert [o["cortex"]["line"] for o in out] == list(range(1, 65))
    assert out[10]["error"]["message"].startswith("not JSON") and out[10]["id"] is None
    assert out[20]["error"]["message"] == "duplicate id 'q5' (first on line 6)"
    assert out[30]["error"]["code"] == "model_not_found" and out[30]["error"]["status"] == 400
    good = [o for i, o in enumerate(out[:60]) if i not in (10, 20, 30)]
    assert all(o["answer"] == "Hello from the fake." for o in good), [
        o for o in good if o["answer"] is None
    ][:2]
    assert all(o["cortex"]["model"] in ("sonnet", "gpt-4o", "opus") for o in good)
    assert all(o["cortex"]["cost_usd"] > 0 for o in good)
    m1, r1, c1, e1 = out[60:]
    assert m1["response"]["status_code"] == 200 and m1["response"]["body"]["type"] == "message"
    assert r1["response"]["body"]["object"] == "response"
    assert c1["response"]["body"]["choices"][0]["message"]["content"] == "Hello from the fake."
    assert e1["response"]["body"]["data"][0]["embedding"]
    assert m1["id"] == "batch_req_60" and m1["response"]["request_id"] == m1["cortex"]["call_id"]
    assert final["done"] == 61 and final["failed"] == 3 and final["invalid"] == 2
    assert final["cost_usd"] == pytest.approx(
        sum(o["cortex"]["cost_usd"] or 0 for o in out), rel=1e-6
    )
    db = sqlite3.connect(app.home / "state" / "ledger.sqlite3")
    clients = {c for (c,) in db.execute("SELECT DISTINCT client FROM calls")}
    db.close()
    assert clients == {"cortex-batch"}


def test_the_estimate_prices_the_lines_and_names_those_that_will_fail(
    fresh_app: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, _, _ = fresh_app
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([_short(0, "opus"), "{", _short(1, "nope-model")]) + "\n")
    with app.client() as http:
        found = http.post("/v1/cortex/batches/estimate", json={"input": str(source)}).json()
        missing = http.post("/v1/cortex/batches/estimate", json={"input": str(tmp_path / "x")})
        relative = http.post("/v1/cortex/batches", json={"input": "in.jsonl", "output": "o"})
    assert found["per_model"] == {"opus": 1} and found["cost_usd"] > 0
    assert [p["line"] for p in found["problems"]] == [2, 3]
    assert missing.status_code == 400 and "no such file" in missing.json()["error"]["message"]
    assert relative.status_code == 400 and relative.json()["error"]["param"] == "input"


def test_a_cancel_reports_every_line_even_those_waiting_to_be_sent_again(
    fresh_app: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, _, openai = fresh_app
    openai.enqueue(*[Fault.status(500)] * 200)  # every send fails: each line waits to retry
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(_short(i, "gpt-4o") for i in range(3)) + "\n")
    started = start_batch(app, source, output, concurrency=3)
    with app.client() as http:
        wait_for(
            lambda: http.get(f"/v1/cortex/batches/{started['id']}").json()["running"] == 3,
            "three lines sent",
        )
        time.sleep(0.5)  # in their wait before a second send
        cancelled = http.post(f"/v1/cortex/batches/{started['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    final = wait_done(app, started["id"])
    out = read_jsonl(output)
    assert final["state"] == "cancelled" and [o["id"] for o in out] == ["q0", "q1", "q2"]
    assert all(o["error"]["code"] == "not_sent" for o in out), out


def test_a_killed_run_resumes_with_no_line_answered_or_written_twice(
    fresh_app: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    """The journal as a kill leaves it: lines answered, one in flight, the output written
    past its last record. A restart sends only the rest, the one in flight flagged."""
    app, _, openai = fresh_app
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(_short(i, "gpt-4o") for i in range(10)) + "\n")
    openai.enqueue(*[Turn(delay=30.0)] * 10)  # nothing answers before the "kill"
    started = start_batch(app, source, output, concurrency=4)
    with app.client() as http:
        wait_for(
            lambda: http.get(f"/v1/cortex/batches/{started['id']}").json()["running"] == 4,
            "four lines in flight",
        )
    home = app.home
    app.stop()
    db = sqlite3.connect(home / "state" / "ledger.sqlite3")
    migrate(db)
    rows = db.execute("SELECT seq, state, sends FROM batch_lines ORDER BY seq").fetchall()
    (db_state,) = db.execute("SELECT state FROM batches").fetchone()
    # What a kill after three answers would leave: three answered and written, the fourth
    # answered and not yet written, a torn line after the output's recorded end.
    done = json.dumps({"choices": [{"message": {"content": "before"}}]})
    db.execute(
        "UPDATE batch_lines SET state = 'answered', status = 200, answer = ?, sends = 1"
        " WHERE seq < 4",
        (done,),
    )
    db.execute("UPDATE batch_lines SET state = 'sent', sends = 1 WHERE seq = 4")
    kept = "".join(json.dumps({"id": f"q{i}", "answer": "before"}) + "\n" for i in range(3))
    output.write_text(kept + '{"id": "q3", "ans')
    db.execute(
        "UPDATE batches SET out_lines = 3, out_bytes = ?",
        (len(kept.encode()),),
    )
    db.commit()
    db.close()
    # The stop left it running, its first lines sent and none answered.
    assert db_state == "running" and [r[1] for r in rows][:4] == ["sent"] * 4
    openai.clear()
    sent_before = len(openai.requests)
    again = start_app(home, env=cloud_env(None, openai))
    try:
        final = wait_done(again, started["id"])
    finally:
        again.stop()
    out = read_jsonl(output)
    assert [o["id"] for o in out] == [f"q{i}" for i in range(10)]
    assert [o["answer"] for o in out[:4]] == ["before"] * 4
    assert out[4]["cortex"]["resent"] is True and out[4]["answer"] == "Hello from the fake."
    assert not any(o["cortex"]["resent"] for o in out[5:])
    assert len(openai.requests) - sent_before == 6  # lines 4 to 9; 0 to 3 never again
    assert final["state"] == "done" and final["resent"] == 1

"""Batches through the providers' Batch APIs (issue 23, part 2), over the real application.

The fakes serve Anthropic's Message Batches and OpenAI's Files and Batch APIs in their wire
formats, and cortexd reaches them through the official SDKs: lines are submitted per
provider and endpoint, polled until their batch ends, and answered in their own wire at the
batch price, each recorded as a call flagged with its provider's batch. A create whose
answer is lost is found again by its key, never submitted twice; a line a batch did not
answer is reported, or sent again the normal way when the user allows it; a cancel cancels
the providers' batches; a Routing Table row can ask for its task's lines to go this way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.app import App
from support.batches import cloud_app, openai_line, read_jsonl, start_batch, wait_done
from support.fakes import FakeAnthropic, FakeOpenAI, Fault
from support.fakes.server import Reset
from support.waiting import wait_for

from cortexd.routing import load_routing_file
from cortexd.routing.dispatch import cost_usd
from cortexd.routing.providers import Usage, anthropic_batches, openai_batches
from cortexd.routing.providers.batch_api import BatchRequest, split


def _summary(app: App, batch_id: str) -> dict[str, Any]:
    with app.client() as http:
        return dict(http.get(f"/v1/cortex/batches/{batch_id}").json())


def _start(app: App, source: Path, output: Path, **more: Any) -> str:
    """A batch polling the providers' batches every 0.1 s; its id."""
    return str(start_batch(app, source, output, poll_seconds=0.1, **more)["id"])


def _short(i: int, model: str, **more: Any) -> str:
    return json.dumps({"id": f"q{i}", "prompt": f"Label ticket #{i}", "model": model, **more})


def _calls(app: App) -> list[dict[str, Any]]:
    db = sqlite3.connect(app.home / "state" / "ledger.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY started_at")]
    finally:
        db.close()


def _sent_normally(fake: FakeAnthropic | FakeOpenAI) -> list[str]:
    chat = ("/v1/messages", "/v1/chat/completions", "/v1/responses")
    return [r.path for r in fake.requests if r.method == "POST" and r.path in chat]


@pytest.fixture
def fresh() -> Iterator[tuple[App, FakeAnthropic, FakeOpenAI]]:
    with cloud_app() as running:
        yield running


def test_lines_go_through_both_batch_apis_and_are_answered_at_the_batch_price(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, anthropic, openai = fresh
    anthropic.message_batches.polls = 2  # a batch is in progress for two polls, as real ones are
    openai.batches.polls = 2
    lines = [_short(i, ("sonnet", "gpt-4o", "codex")[i % 3]) for i in range(9)]
    lines += [
        openai_line(
            "m1",
            "/v1/messages",
            {"model": "haiku", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        ),
        openai_line("c1", "/v1/chat/completions", {"model": "sonnet", "messages": [
            {"role": "user", "content": "hello"}]}),
        openai_line("e1", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
        json.dumps({"id": "bad", "prompt": "x", "model": "gemini-9"}),
    ]  # fmt: skip
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(lines) + "\n")
    batch_id = _start(app, source, output, provider_batch=True)
    final = wait_done(app, batch_id)

    assert final["state"] == "done" and final["done"] == 12 and final["failed"] == 1
    # One Message Batch (sonnet and haiku lines, translated where written for OpenAI), and an
    # OpenAI batch per endpoint: gpt-4o on Chat Completions, codex on Responses.
    (created,) = anthropic.message_batches.created
    assert len(created) == 5 and all("stream" not in p for p in created.values())
    models = sorted(p["model"] for p in created.values())
    assert models == ["claude-haiku-5-5", *["claude-sonnet-5-5"] * 4]
    endpoints = sorted(b.endpoint for b in openai.batches.batches.values())
    assert endpoints == ["/v1/chat/completions", "/v1/responses"]
    # Nothing answered the normal way but the embedding (no Batch API here) and the bad line.
    assert _sent_normally(anthropic) == [] and _sent_normally(openai) == []
    out = read_jsonl(output)
    assert [o.get("id") if "custom_id" not in o else o["custom_id"] for o in out] == [
        *[f"q{i}" for i in range(9)], "m1", "c1", "e1", "bad"
    ]  # fmt: skip
    assert all(o["answer"] == "Hello from the fake." for o in out[:9]), out[:9]
    assert out[9]["response"]["body"]["type"] == "message"
    assert out[10]["response"]["body"]["choices"][0]["message"]["content"]
    assert out[11]["response"]["body"]["data"][0]["embedding"]
    assert out[12]["error"]["code"] == "model_not_found"

    catalog = app.services.routing.catalog
    batched = [c for c in _calls(app) if c["batch"]]
    assert len(batched) == 11 and {c["client"] for c in batched} == {"cortex-batch"}
    remote = {*anthropic.message_batches.batches, *openai.batches.batches}
    assert {c["batch"] for c in batched} == remote
    for call in batched:
        spec = catalog.resolve(call["model"])
        assert spec is not None
        usage = Usage(input_tokens=call["input_tokens"], output_tokens=call["output_tokens"])
        standard = cost_usd(catalog.price(spec), usage)
        price, _ = catalog.batch_price(spec)
        assert standard is not None and standard > 0
        assert Decimal(call["cost_pico_usd"]) / 10**12 == cost_usd(price, usage)
        assert cost_usd(price, usage) == standard / 2, call["model"]
    # Codex has no batch price in the table: the documented discount, said in the answer.
    codex = next(o for o in out[:9] if o["cortex"]["model"] == "codex")
    assert codex["cortex"]["cost_usd"] > 0
    summary = _summary(app, batch_id)
    assert [s["state"] for s in summary["provider_batches"]] == ["collected"] * 3
    assert sum(s["requests"] for s in summary["provider_batches"]) == 11
    # Recorded when the results arrived (the month that pays), after the submission.
    db = sqlite3.connect(app.home / "state" / "ledger.sqlite3")
    (submitted,) = db.execute("SELECT max(submitted_at) FROM provider_batches").fetchone()
    db.close()
    assert all(c["started_at"] > submitted for c in batched)
    # The person is told it is done: the notice lands in alerts.md beside the report.
    alerts = (app.services.routing_path.parent / "alerts.md").read_text(encoding="utf-8")
    assert f"batch {batch_id} done: 12 answered, 1 failed" in alerts


def test_the_estimate_prices_the_lines_at_the_batch_price(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, _, _ = fresh
    source = tmp_path / "in.jsonl"
    lines = [_short(i, m) for i, m in enumerate(("sonnet", "gpt-4o", "codex", "haiku"))]
    embed = openai_line(
        "e", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x" * 400}
    )
    source.write_text("\n".join([*lines, embed]) + "\n")
    with app.client() as http:
        full = http.post("/v1/cortex/batches/estimate", json={"input": str(source)}).json()
        half = http.post(
            "/v1/cortex/batches/estimate", json={"input": str(source), "provider_batch": True}
        ).json()
    assert half["provider_batch"] and not full["provider_batch"]
    assert half["per_provider_usd"]["anthropic"] == pytest.approx(
        full["per_provider_usd"]["anthropic"] / 2
    )
    # Embeddings take the normal path, at the normal price: OpenAI's half is a little more.
    assert full["per_provider_usd"]["openai"] / 2 < half["per_provider_usd"]["openai"]
    assert half["per_provider_usd"]["openai"] < full["per_provider_usd"]["openai"]


def test_the_answer_says_which_batch_and_what_price_basis(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, _, _ = fresh
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    body = {"model": "codex", "messages": [{"role": "user", "content": "write fizzbuzz"}]}
    source.write_text(openai_line("c", "/v1/chat/completions", body) + "\n")
    wait_done(app, _start(app, source, output, provider_batch=True))
    (line,) = read_jsonl(output)
    cortex = line["response"]["body"]["cortex"]
    assert cortex["batch"]["provider_batch"].startswith("batch_")
    assert "documented 50% batch discount" in cortex["batch"]["price"]
    assert any("Batch API" in w for w in cortex["warnings"])


def test_an_item_a_batch_did_not_answer_is_reported_or_sent_again_when_allowed(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, anthropic, _ = fresh
    source = tmp_path / "in.jsonl"
    source.write_text("".join(_short(i, "sonnet") + "\n" for i in range(4)))
    anthropic.enqueue(Fault.status(500))  # the batch's first request errors
    reported = tmp_path / "reported.jsonl"
    final = wait_done(app, _start(app, source, reported, provider_batch=True))
    out = read_jsonl(reported)
    assert final["state"] == "done" and final["failed"] == 1 and final["done"] == 3
    assert out[0]["error"]["status"] == 500 and "api_error" in out[0]["error"]["message"]
    assert [o["answer"] for o in out[1:]] == ["Hello from the fake."] * 3
    failed = [c for c in _calls(app) if c["batch"] and c["outcome"] == "error"]
    assert len(failed) == 1 and failed[0]["cost_pico_usd"] == 0

    anthropic.enqueue(Fault.status(500))
    again = tmp_path / "again.jsonl"
    final = wait_done(app, _start(app, source, again, provider_batch=True, retry_failed=True))
    out = read_jsonl(again)
    assert final["state"] == "done" and final["done"] == 4 and final["resent"] == 1
    assert all(o["answer"] == "Hello from the fake." for o in out)
    assert out[0]["cortex"]["resent"] and not out[1]["cortex"]["resent"]
    assert _sent_normally(anthropic) == ["/v1/messages"]  # only the one that errored


def test_expired_requests_are_reported_as_expired(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, _, openai = fresh
    openai.batches.polls = 10_000
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(_short(i, "gpt-4o") + "\n" for i in range(4)))
    batch_id = _start(app, source, output, provider_batch=True)
    wait_for(lambda: len(openai.batches.batches) == 1, "the batch submitted")
    (remote,) = openai.batches.batches
    openai.batches.expire(remote)  # the 24 hours pass: half of it was not done
    final = wait_done(app, batch_id)
    out = read_jsonl(output)
    assert final["done"] == 2 and final["failed"] == 2
    assert [o["error"]["code"] for o in out[2:]] == ["batch_expired"] * 2
    assert [s["status"] for s in final["provider_batches"]] == ["expired"]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_create_whose_answer_was_lost_is_found_again_not_submitted_twice(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path, provider: str
) -> None:
    app, anthropic, openai = fresh
    model = "sonnet" if provider == "anthropic" else "gpt-4o"
    fake_batches: Any = anthropic.message_batches if provider == "anthropic" else openai.batches
    fake_batches.lose_create = Reset()  # made, and the connection reset before the answer
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(_short(i, model) + "\n" for i in range(5)))
    final = wait_done(app, _start(app, source, output, provider_batch=True))
    assert final["state"] == "done" and final["done"] == 5, final
    assert len(fake_batches.batches) == 1  # found by its key, never made again
    assert all(o["answer"] == "Hello from the fake." for o in read_jsonl(output))
    (sent,) = final["provider_batches"]
    assert sent["state"] == "collected" and sent["provider_batch_id"] in fake_batches.batches
    assert _sent_normally(anthropic) == [] and _sent_normally(openai) == []


def test_a_cancel_cancels_the_providers_batches_and_reports_every_line(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, anthropic, _ = fresh
    anthropic.message_batches.polls = 10_000
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(_short(i, "haiku") + "\n" for i in range(6)))
    batch_id = _start(app, source, output, provider_batch=True)
    wait_for(lambda: _summary(app, batch_id)["submitted"] == 6, "the lines submitted")
    with app.client() as http:
        assert http.post(f"/v1/cortex/batches/{batch_id}/cancel").status_code == 200
    final = wait_done(app, batch_id)
    out = read_jsonl(output)
    assert final["state"] == "cancelled" and len(out) == 6
    (remote,) = anthropic.message_batches.batches.values()
    assert remote.cancel_initiated_at is not None
    assert [o["answer"] for o in out[:3]] == ["Hello from the fake."] * 3  # done before it
    assert [o["error"]["code"] for o in out[3:]] == ["batch_canceled"] * 3


def test_a_routing_table_row_sends_its_tasks_lines_through_the_batch_api(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, anthropic, _ = fresh
    text = app.services.routing_path.read_text(encoding="utf-8")
    header = "| Task Type | Primary | Fallback | Notes |\n|---|---|---|---|"
    row = "| Bulk operations | haiku | — | Cheap batch processing |"
    assert header in text and row in text
    text = text.replace(
        header, "| Task Type | Primary | Fallback | Notes | Batch API |\n|---|---|---|---|---|"
    ).replace(row, row + " yes |")
    generation = app.services.routing.generation
    app.services.routing_path.write_text(text, encoding="utf-8")
    app.reload()
    wait_for(lambda: app.services.routing.generation > generation, "the reload")
    route = app.services.routing.table.routes["Bulk operations"]
    assert (
        route.provider_batch and not app.services.routing.table.routes["Code review"].provider_batch
    )

    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    bulk = [json.dumps({"id": f"b{i}", "prompt": f"Tag row {i}", "task": "Bulk operations"})
            for i in range(3)]  # fmt: skip
    other = [json.dumps({"id": "r", "prompt": "Review this diff", "task": "Code review"})]
    source.write_text("\n".join(bulk + other) + "\n")
    final = wait_done(app, _start(app, source, output))  # no --provider-batch
    assert final["done"] == 4
    (created,) = anthropic.message_batches.created
    assert len(created) == 3 and {p["model"] for p in created.values()} == {"claude-haiku-5-5"}
    assert _sent_normally(anthropic) == ["/v1/messages"]  # the review, the normal way


def test_a_bad_batch_api_cell_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "model-routing.md"
    path.write_text(
        "# Routing\n\n## Routing Table\n\n| Task Type | Primary | Batch API |\n|---|---|---|\n"
        "| Bulk operations | haiku | sometimes |\n",
        encoding="utf-8",
    )
    with pytest.raises(Exception) as caught:
        load_routing_file(path)
    said = str(caught.value)
    assert "model-routing.md:7: 'sometimes' is not yes or no" in said
    assert "column 'Batch API'" in said


def test_large_batches_are_cut_within_each_providers_limits() -> None:
    small = [BatchRequest(f"k-{i}", "/v1/messages", {"m": "hi"}) for i in range(100_001)]
    assert [len(p) for p in split(small, anthropic_batches.LIMITS)] == [100_000, 1]
    assert [len(p) for p in split(small, openai_batches.LIMITS)] == [50_000, 50_000, 1]
    megabyte = "x" * 1024 * 1024
    big = [BatchRequest(f"k-{i}", "/v1/chat/completions", {"c": megabyte}) for i in range(260)]
    parts = split(big, openai_batches.LIMITS)
    assert [len(p) for p in parts] == [199, 61]  # 200 MB a file, with each line's framing
    assert sum(len(openai_batches.input_file(p)) for p in parts[:1]) <= 200 * 1024 * 1024
    assert [len(p) for p in split(big, anthropic_batches.LIMITS)] == [255, 5]


def test_a_model_served_from_an_aliases_own_base_url_takes_the_normal_path(
    fresh: tuple[App, FakeAnthropic, FakeOpenAI], tmp_path: Path
) -> None:
    app, _, openai = fresh
    aliases = (
        "\n## Model Aliases\n\n| Alias | Provider | Model ID | Base URL |\n|---|---|---|---|\n"
        f"| proxygpt | openai | gpt-4o-mini | {openai.base_url} |\n"
    )
    path = app.services.routing_path
    generation = app.services.routing.generation
    path.write_text(path.read_text(encoding="utf-8") + aliases, encoding="utf-8")
    app.reload()
    wait_for(lambda: app.services.routing.generation > generation, "the reload")
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(_short(i, "proxygpt") + "\n" for i in range(3)))
    final = wait_done(app, _start(app, source, output, provider_batch=True))
    assert final["done"] == 3 and final["provider_batches"] == []
    assert openai.batches.batches == {}  # a proxy has no Batch API: nothing was submitted
    assert _sent_normally(openai) == ["/v1/chat/completions"] * 3

"""Budgets through the real application, in-process (a restart is a stop and a start on the
same home): alerts once per threshold across restarts and missed checks, each policy at 100%
acting before anything is sent, and the weekly review.

Providers are the fakes; notices are read where a user reads them (``alerts.md``, the log).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from support.app import App, start_app
from support.daemon import cloud_env, remove_home, short_home
from support.fakes import FakeAnthropic, FakeOpenAI, Turn
from support.ledger_rows import answered, write_calls
from support.waiting import wait_for

from cortexd.context.paths import default_routing_text
from cortexd.routing import build_catalog, call_estimate
from cortexd.routing.dispatch import cost_usd
from cortexd.routing.providers import ChatMessage, ChatRequest, Usage

TURN = {"input_tokens": 1000, "output_tokens": 1000}


def sonnet_call_cost() -> Decimal:
    catalog = build_catalog([], {})
    spec = catalog.resolve("sonnet")
    assert spec is not None
    cost = cost_usd(catalog.price(spec), Usage(**TURN))
    assert cost is not None and cost > 0
    return cost


def budgets(*rows: str) -> str:
    head = "\n## Budgets\n\n| Provider | Monthly limit | Alerts | At 100% |\n|---|---|---|---|\n"
    return default_routing_text() + head + "".join(f"{r}\n" for r in rows)


def env_for(fakes: tuple[FakeAnthropic, FakeOpenAI]) -> dict[str, str]:
    return cloud_env(*fakes)


@pytest.fixture
def home() -> Iterator[Path]:
    folder = short_home()
    (folder / "context").mkdir(parents=True)
    yield folder
    remove_home(folder)


def routing_file(home: Path) -> Path:
    return home / "context" / "model-routing.md"


def sdk_for(daemon: App, retries: int = 0) -> openai.OpenAI:
    return daemon.sdk(retries)


def ask(sdk: openai.OpenAI, task: str = "Meeting summary") -> dict[str, Any]:
    completion = sdk.chat.completions.create(
        model=f"task:{task}", messages=[{"role": "user", "content": "Summarize the standup."}]
    )
    block: dict[str, Any] = (completion.model_extra or {})["cortex"]
    return block


def health(daemon: App) -> dict[str, Any]:
    answer: dict[str, Any] = daemon.client().get("/v1/health").json()
    return answer


def posts(fake: FakeAnthropic | FakeOpenAI) -> list[str]:
    """The generation requests a fake received (health checks only read)."""
    return [r.path for r in fake.requests if r.method == "POST"]


def job_runs(daemon: App, job: str) -> int:
    runs: int = health(daemon)["jobs"][job]["runs"]
    return runs


def alerts(home: Path) -> list[str]:
    path = home / "context" / "alerts.md"
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.startswith("- **")]


def reload(daemon: App) -> None:
    before = health(daemon)["routing_file"]["generation"]
    probes = job_runs(daemon, "hardware-probe")
    daemon.reload()  # what SIGHUP does
    wait_for(lambda: health(daemon)["routing_file"]["generation"] > before, "the reload")
    # A reload probes the machine again: the local rows in use follow the new table then.
    wait_for(lambda: job_runs(daemon, "hardware-probe") > probes, "the probe after the reload")


def test_crossing_80_percent_notifies_exactly_once_also_after_restarts(
    home: Path, fresh: tuple[FakeAnthropic, FakeOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    anthropic_fake, _ = fresh
    # Four calls make 72% of the limit, the fifth 90%: it crosses 80% and only 80%.
    limit = (sonnet_call_cost() * 50 / 9).quantize(Decimal("0.000001"))
    routing_file(home).write_text(budgets(f"| anthropic | ${limit} | 80% | continue |"))
    daemon = start_app(home, env_for(fresh))
    try:
        sdk = sdk_for(daemon)
        for _ in range(4):
            anthropic_fake.enqueue(Turn(text="ok", **TURN))
            ask(sdk)
        wait_for(lambda: job_runs(daemon, "budget-check") >= 1, "the start-up check")
        assert alerts(home) == []
        anthropic_fake.enqueue(Turn(text="ok", **TURN))
        ask(sdk)  # continue: it is sent, and crosses 80%
        wait_for(lambda: alerts(home), "the alert")
        state = daemon.client().get("/v1/budgets").json()
        assert state["budgets"][0]["reached"] == [80]
        assert [a["threshold"] for a in state["alerts"]] == [80]
        sdk.close()
    finally:
        daemon.stop()
    assert len(alerts(home)) == 1 and "anthropic budget past 80%" in alerts(home)[0]
    assert "90%" in alerts(home)[0]
    assert "budget alert sent: anthropic 80%" in caplog.text
    again = start_app(home, env_for(fresh))
    try:
        wait_for(lambda: job_runs(again, "budget-check") >= 1, "the start-up check")
    finally:
        again.stop()
    assert len(alerts(home)) == 1


def test_a_check_missed_while_stopped_alerts_at_the_next_start(
    home: Path, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    routing_file(home).write_text(default_routing_text())
    daemon = start_app(home, env_for(fresh))
    try:
        sdk = sdk_for(daemon)
        for _ in range(5):
            anthropic_fake.enqueue(Turn(text="ok", **TURN))
            ask(sdk)
        sdk.close()
    finally:
        daemon.stop()
    # The budget was set while the daemon was stopped: spend is already past 80% of it.
    limit = (sonnet_call_cost() * 50 / 9).quantize(Decimal("0.000001"))
    routing_file(home).write_text(budgets(f"| anthropic | ${limit} | 50%, 80% | continue |"))
    for _ in range(2):
        again = start_app(home, env_for(fresh))
        try:
            wait_for(lambda d=again: job_runs(d, "budget-check") >= 1, "the start-up check")
        finally:
            again.stop()
    assert len(alerts(home)) == 1  # 50% and 80% reached together: one notice, the higher
    assert "anthropic budget past 80%" in alerts(home)[0]


@pytest.fixture(scope="module")
def spent(fakes: tuple[FakeAnthropic, FakeOpenAI]) -> Iterator[App]:
    """A daemon whose anthropic budget is a tenth of a cent: every call to it would pass."""
    home = short_home()
    (home / "context").mkdir(parents=True)
    routing_file(home).write_text(budgets("| anthropic | $0.001 | 80% | fallback |"))
    running = start_app(home, env_for(fakes))
    yield running
    running.stop()
    remove_home(home)


def set_policy(daemon: App, policy: str) -> None:
    routing_file(daemon.home).write_text(budgets(f"| anthropic | $0.001 | 80% | {policy} |"))
    reload(daemon)


def call(daemon: App, call_id: str) -> dict[str, Any]:
    found: dict[str, Any] = daemon.client().get(f"/v1/calls/{call_id}").json()
    return found


def test_fallback_policy_sends_the_call_to_its_fallback_and_never_to_the_spent_provider(
    spent: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    set_policy(spent, "fallback")
    openai_fake.enqueue(Turn(text="from codex"))
    with sdk_for(spent) as sdk:
        block = ask(sdk, "Code generation")
    assert block["model"] == "codex"
    assert posts(anthropic_fake) == [] and len(posts(openai_fake)) == 1
    body = {"model": "task:Code generation", "messages": [{"role": "user", "content": "x"}]}
    planned = spent.client().post("/v1/route", json=body).json()
    assert planned["chain"] == ["codex"] and planned["refused"] is None
    reasons = call(spent, block["id"])["reasons"]
    assert any(
        "sonnet skipped: anthropic budget $0.0010/month would be passed" in r for r in reasons
    )


def test_refuse_policy_answers_429_before_anything_is_sent_and_records_it(
    spent: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    set_policy(spent, "refuse")
    calls_before = len(spent.client().get("/v1/calls", params={"limit": 1000}).json()["data"])
    # An SDK that retries 429s is told not to: retrying cannot help this month.
    with sdk_for(spent, retries=2) as sdk, pytest.raises(openai.RateLimitError) as raised:
        ask(sdk, "Code generation")
    assert raised.value.response.headers["x-should-retry"] == "false"
    calls_after = len(spent.client().get("/v1/calls", params={"limit": 1000}).json()["data"])
    assert calls_after == calls_before + 1
    error = raised.value.body
    assert isinstance(error, dict) and error["code"] == "budget_exceeded"
    assert "not sent to sonnet: anthropic budget $0.0010/month would be passed" in error["message"]
    assert "cortex budget set" in error["message"]
    assert posts(anthropic_fake) == [] and posts(openai_fake) == []
    # The plan alone (cortex route) says the same, and sends nothing.
    body = {"model": "task:Code generation", "messages": [{"role": "user", "content": "x"}]}
    planned = spent.client().post("/v1/route", json=body).json()
    assert planned["refused"].startswith("not sent to sonnet: anthropic budget")
    latest = spent.client().get("/v1/calls", params={"limit": 1}).json()["data"][-1]
    assert latest["outcome"] == "error"
    assert call(spent, latest["id"])["error"].startswith("BudgetExceededError: not sent to sonnet")
    # The daemon keeps serving: another provider's task still answers.
    openai_fake.enqueue(Turn(text="codex answers"))
    with sdk_for(spent) as sdk:
        assert ask(sdk, "Vibe coding (interactive)")["model"] == "codex"


def test_a_second_opinion_past_a_hard_limit_is_skipped_and_says_why(
    spent: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    set_policy(spent, "fallback")
    openai_fake.enqueue(Turn(text="codex answers"))
    with sdk_for(spent) as sdk:
        completion = sdk.chat.completions.create(
            model="task:Vibe coding (interactive)",
            messages=[{"role": "user", "content": "Write a parser."}],
            extra_body={"cortex": {"second_opinion": True}},
        )
    block = (completion.model_extra or {})["cortex"]
    assert block["model"] == "codex"
    opinion = block["second_opinion"]
    assert opinion["status"] == "no-second-model"
    assert "anthropic budget $0.0010/month would be passed" in opinion["detail"]
    assert posts(anthropic_fake) == []


def with_local_toggles(text: str, on: str) -> str:
    """The seed with an Enabled column in its Local Models table: `on` forced on."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Task Type | Local Model"))
    lines[start] += " Enabled |"
    lines[start + 1] += "---|"
    i = start + 2
    while i < len(lines) and lines[i].startswith("|"):
        lines[i] += " on |" if lines[i].startswith(f"| {on} |") else " auto |"
        i += 1
    return "\n".join(lines) + "\n"


def test_local_policy_puts_the_tasks_local_model_in_the_spent_models_place(
    spent: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    text = budgets("| anthropic | $0.001 | 80% | local only |")
    routing_file(spent.home).write_text(with_local_toggles(text, "Code generation"))
    reload(spent)
    openai_fake.enqueue(Turn(text="from codex"))
    with sdk_for(spent) as sdk:
        block = ask(sdk, "Code generation")
    record = call(spent, block["id"])
    # No Ollama runs here: the local model is tried (and fails) in sonnet's place.
    assert record["chain"][:2] == ["qwen2.5-coder:14b", "codex"]
    assert [a["model"] for a in record["attempts"]][0] == "qwen2.5-coder:14b"
    assert posts(anthropic_fake) == [] and block["model"] == "codex"


def test_local_policy_without_a_local_model_in_use_falls_back_and_says_so(
    spent: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    set_policy(spent, "local only")  # the seed's local rows are `auto`: not in use here
    openai_fake.enqueue(Turn(text="from codex"))
    with sdk_for(spent) as sdk:
        block = ask(sdk, "Code generation")
    record = call(spent, block["id"])
    assert record["chain"] == ["codex"] and block["model"] == "codex"
    assert any("no local model is in use for this task" in r for r in record["reasons"])
    assert posts(anthropic_fake) == []


def test_continue_policy_keeps_sending_and_health_shows_the_budget(
    spent: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    set_policy(spent, "continue")
    anthropic_fake.enqueue(Turn(text="ok", **TURN))
    with sdk_for(spent) as sdk:
        assert ask(sdk)["model"] == "sonnet"
    budget = health(spent)["budgets"]
    assert budget["set"] is True and budget["budgets"][0]["scope"] == "anthropic"
    assert budget["budgets"][0]["percent"] > 100


def test_without_a_budget_costs_and_health_say_so(app: App) -> None:
    daemon = app
    note = "no budget set: spend is tracked but never limited or alerted on"
    assert health(daemon)["budgets"]["note"].startswith(note)
    assert daemon.client().get("/v1/costs").json()["budgets"]["set"] is False


def missed_review(home: Path, fakes: tuple[FakeAnthropic, FakeOpenAI], text: str) -> None:
    """A home whose ledger shows codex beating sonnet on Code review, and whose weekly
    review was last run 8 days ago (a Monday passed while the daemon was stopped)."""
    routing_file(home).write_text(text)
    start_app(home, env_for(fakes)).stop()  # the database, with its schema
    rows = answered("Code review", "sonnet", calls=50, achieved=30, cost="0.011")
    rows += answered("Code review", "codex", calls=50, achieved=46, cost="0.004")
    ledger = home / "state" / "ledger.sqlite3"
    write_calls(ledger, rows)
    with sqlite3.connect(ledger) as db:
        db.execute(
            "UPDATE job_runs SET last_run = ? WHERE job = 'weekly-review'",
            (time.time() - 8 * 86_400,),
        )
        assert db.total_changes == 1


def test_the_missed_weekly_review_runs_at_start_once_and_only_proposes(
    home: Path, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    missed_review(home, fresh, default_routing_text())
    first = start_app(home, env_for(fresh))
    try:
        wait_for(lambda: any("week in review" in a for a in alerts(home)), "the digest")
        wait_for(lambda: job_runs(first, "weekly-review") == 1, "the review's record")
        next_run = health(first)["jobs"]["weekly-review"]["next_run"]
    finally:
        first.stop()
    assert time.strptime(next_run[:10], "%Y-%m-%d").tm_wday == 0  # next Monday
    (digest,) = [a for a in alerts(home) if "week in review" in a]
    assert "100 calls" in digest and "1 routing proposal(s): run `cortex propose`" in digest
    # The seed's mode: proposals are shown, never applied.
    assert routing_file(home).read_text() == default_routing_text()
    report = (home / "context" / "model-performance.md").read_text()
    assert "1. **Code review: make codex the primary, sonnet the fallback**" in report
    second = start_app(home, env_for(fresh))
    try:
        wait_for(lambda: job_runs(second, "budget-check") >= 1, "the start-up check")
        assert job_runs(second, "weekly-review") == 0
    finally:
        second.stop()
    assert sum("the week in review" in a for a in alerts(home)) == 1


def test_in_adaptive_mode_the_review_applies_the_proposal_and_reloads(
    home: Path, fresh: tuple[FakeAnthropic, FakeOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    adaptive = default_routing_text().replace(
        "**Mode**: Static rules + user override", "**Mode**: Adaptive"
    )
    missed_review(home, fresh, adaptive)
    daemon = start_app(home, env_for(fresh))
    try:
        wait_for(lambda: health(daemon)["routing_file"]["generation"] >= 2, "the reload")
        body = {"model": "task:Code review", "messages": [{"role": "user", "content": "hi"}]}
        assert daemon.client().post("/v1/route", json=body).json()["chain"] == ["codex", "sonnet"]
        wait_for(lambda: any("week in review" in a for a in alerts(home)), "the digest")
    finally:
        daemon.stop()
    text = routing_file(home).read_text()
    assert "| Code review | codex | sonnet |" in text
    (digest,) = [a for a in alerts(home) if "week in review" in a]
    assert "Applied 1 routing change(s): Code review: make codex the primary" in digest
    assert "applied routing proposal" in caplog.text


def test_calls_in_flight_hold_their_estimate_so_a_burst_cannot_slip_past_a_hard_limit(
    home: Path, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, _ = fresh
    prompt = "Summarize the standup."
    catalog = build_catalog([], {})
    sonnet = catalog.resolve("sonnet")
    assert sonnet is not None
    request = ChatRequest("sonnet", (ChatMessage.of("user", prompt),), max_tokens=1000)
    each = Decimal(call_estimate(catalog, request)(sonnet)) / 10**12
    # Room for three calls' estimates, not four.
    limit = (each * Decimal("3.5")).quantize(Decimal("0.000001"))
    routing_file(home).write_text(budgets(f"| anthropic | ${limit} | 80% | refuse |"))
    daemon = start_app(home, env_for(fresh))
    try:
        for _ in range(6):
            anthropic_fake.enqueue(Turn(text="ok", input_tokens=10, output_tokens=1000, delay=1.5))

        def one(_: int) -> str:
            with sdk_for(daemon) as sdk:
                try:
                    sdk.chat.completions.create(
                        model="task:Meeting summary",
                        max_tokens=1000,
                        messages=[{"role": "user", "content": prompt}],
                    )
                except openai.RateLimitError as error:
                    assert isinstance(error.body, dict)
                    return str(error.body["code"])
                return "answered"

        with ThreadPoolExecutor(6) as pool:
            outcomes = sorted(pool.map(one, range(6)))
    finally:
        daemon.stop()
    assert outcomes == ["answered"] * 3 + ["budget_exceeded"] * 3
    assert len(posts(anthropic_fake)) == 3

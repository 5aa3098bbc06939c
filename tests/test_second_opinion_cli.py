"""Second opinions as a user meets them: `cortex ask --second-opinion` side by side, the
routing file's Cross-Validation section making them automatic, and a budget past its alert
threshold skipping the extra call (saying so). Providers are the fakes; the application is
the real one, in-process."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from support.app import App, start_app
from support.cli import Ran
from support.cli import cortex as run_cortex
from support.daemon import cloud_env, remove_home, short_home
from support.fakes import FakeAnthropic, FakeOpenAI, Turn
from support.ledger_rows import answered, write_calls

from cortexd.context.paths import default_routing_text

VERDICT = (
    '{"agree": false, "differences": ["A says 4, B says 5", "B shows no working"],'
    ' "summary": "They differ on the sum."}'
)
CROSS_CHECK = "\n## Cross-Validation\n| Task Type | Second Opinion |\n|---|---|\n"
CROSS_CHECK += "| Security audit | gpt-4o |\n"


def env_for(fakes: tuple[FakeAnthropic, FakeOpenAI]) -> dict[str, str]:
    return cloud_env(*fakes)


def start(fakes: tuple[FakeAnthropic, FakeOpenAI], text: str, spent_usd: str | None = None) -> App:
    home = short_home()
    (home / "context").mkdir(parents=True)
    (home / "context" / "model-routing.md").write_text(text)
    if spent_usd is not None:  # the month's spend so far, as the ledger holds it
        (home / "state").mkdir(parents=True)
        rows = answered(
            "Meeting summary", "sonnet", calls=1, achieved=1, cost=spent_usd, days_ago=0.001
        )
        write_calls(home / "state" / "ledger.sqlite3", rows)
    return start_app(home, env_for(fakes))


@pytest.fixture
def cross_checking(fresh: tuple[FakeAnthropic, FakeOpenAI]) -> Iterator[App]:
    daemon = start(fresh, default_routing_text() + CROSS_CHECK)
    yield daemon
    daemon.stop()
    remove_home(daemon.home)


def cortex(daemon: App, *args: str) -> Ran:
    return run_cortex(daemon.socket, *args, env={"COLUMNS": "120"})


def posts(fake: FakeAnthropic | FakeOpenAI) -> int:
    return sum(r.method == "POST" for r in fake.requests)


def test_ask_second_opinion_shows_both_answers_side_by_side_with_the_verdict(
    cross_checking: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Turn(text="It is 4."), Turn(text=VERDICT))  # answer, then the judge
    openai_fake.enqueue(Turn(text="It is 5."))
    shown = cortex(cross_checking, "ask", "--second-opinion", "--task", "Code review", "2 + 2?")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    head = next(line for line in out.splitlines() if "(answered)" in line)
    assert "sonnet (answered)" in head and "(second opinion)" in head  # two columns, one row
    row = next(line for line in out.splitlines() if "It is 4." in line)
    assert "It is 5." in row
    assert "The two models disagree." in out
    assert "Points of difference" in out and "A says 4, B says 5" in out
    assert "They differ on the sum." in out and "verdict of haiku" in out
    assert "[sonnet via anthropic, Code review" in shown.stderr


def test_a_cross_validation_task_gets_its_second_opinion_without_asking(
    cross_checking: App, fresh: tuple[FakeAnthropic, FakeOpenAI]
) -> None:
    anthropic_fake, openai_fake = fresh
    anthropic_fake.enqueue(Turn(text="No injection found."), Turn(text=VERDICT))
    openai_fake.enqueue(Turn(text="Line 12 is injectable."))
    shown = cortex(cross_checking, "ask", "--task", "Security audit", "audit this query")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("No injection found.")  # the answer, as a stream
    assert "gpt-4o (second opinion)" in shown.stdout and "Line 12 is injectable." in shown.stdout
    assert "The two models disagree." in shown.stdout
    assert posts(openai_fake) == 1


def test_past_the_alert_threshold_the_second_call_is_skipped_and_said(
    fresh: tuple[FakeAnthropic, FakeOpenAI],
) -> None:
    anthropic_fake, openai_fake = fresh
    budget = "\n## Budgets\n| Provider | Monthly limit | Alerts | At 100% |\n|---|---|---|---|\n"
    budget += "| total | $10 | 50%, 90% | continue |\n"
    daemon = start(fresh, default_routing_text() + CROSS_CHECK + budget, spent_usd="6")
    try:
        anthropic_fake.enqueue(Turn(text="Looks safe."))
        shown = cortex(daemon, "ask", "--second-opinion", "--task", "Security audit", "audit")
        assert shown.returncode == 0, shown.stderr
        assert "Looks safe." in shown.stdout
        assert "No second opinion this time." in shown.stdout
        said = " ".join(shown.stdout.split())  # rich wraps the detail
        # $6 before the call, and the call itself: past the 50% alert, far from the limit.
        assert re.search(
            r"gpt-4o not asked: the total budget is at 6\d% of \$10, past its 50%", said
        )
        assert "haiku" not in said  # the judge's budget matters only once a second answer exists
        assert posts(openai_fake) == 0 and posts(anthropic_fake) == 1  # no second, no judge
    finally:
        daemon.stop()
        remove_home(daemon.home)

"""What proposals are built on, read from a real ledger: failures that speak about a model,
overrides that are the user's, answered and achieved calls and their cost."""

from __future__ import annotations

import time
from pathlib import Path

from support.ledger_rows import answered, write_calls

from cortexd.ledger.evidence import evidence, week_figures
from cortexd.ledger.store import connect
from cortexd.routing import ModelEvidence


def read(path: Path) -> tuple[dict[tuple[str, str], ModelEvidence], dict[str, int]]:
    db = connect(path, synchronous="NORMAL")
    try:
        found = evidence(db, since=time.time() - 30 * 86_400, until=time.time())
    finally:
        db.close()
    return {(m.task, m.model): m for m in found.models}, dict(found.task_calls)


def test_only_failures_of_the_model_count_against_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    rows = answered("Code review", "codex", calls=6, achieved=6, cost="0.004",
                    tried_first="sonnet", failure="ProviderTimeoutError")  # fmt: skip
    rows += answered("Code review", "codex", calls=4, achieved=4, cost="0.004",
                     tried_first="sonnet", failure="AuthenticationError")  # fmt: skip
    rows += answered("Code review", "sonnet", calls=10, achieved=7, cost="0.011")
    write_calls(path, rows)
    found, calls = read(path)
    sonnet = found[("Code review", "sonnet")]
    # A bad key says nothing about sonnet: 10 answers and 6 timeouts, not 4 more failures.
    assert (sonnet.tries, sonnet.failures, sonnet.timeouts) == (16, 6, 6)
    assert (sonnet.answered, sonnet.achieved) == (10, 7)
    assert sonnet.cost_pico == 10 * 11 * 10**9
    codex = found[("Code review", "codex")]
    assert (codex.answered, codex.achieved, codex.failures) == (10, 10, 0)
    assert calls == {"Code review": 20}


def test_an_override_is_the_users_phrase_not_a_pinned_model(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    rows = answered("Meeting summary", "opus", calls=5, achieved=5, cost="0.05",
                    decided_by="override")  # fmt: skip
    rows += answered("Meeting summary", "opus", calls=7, achieved=7, cost="0.05",
                     decided_by="explicit-model")  # fmt: skip
    write_calls(path, rows)
    opus = read(path)[0][("Meeting summary", "opus")]
    assert (opus.answered, opus.overridden_to) == (12, 5)


def test_the_week_is_compared_with_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    rows = answered("Code review", "sonnet", calls=4, achieved=3, cost="0.01", days_ago=2)
    rows += answered("Code review", "sonnet", calls=2, achieved=2, cost="0.01", days_ago=9)
    write_calls(path, rows)
    db = connect(path, synchronous="NORMAL")
    try:
        week = week_figures(db, now=time.time())
    finally:
        db.close()
    assert (week["this_week"]["calls"], week["this_week"]["achieved"]) == (4, 3)
    assert week["this_week"]["cost_usd"] == "0.04"
    assert week["last_week"]["calls"] == 2
    assert week["tasks"] == [{"task": "Code review", "calls": 4, "cost_usd": "0.04"}]

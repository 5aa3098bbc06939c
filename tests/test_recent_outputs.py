"""RecentOutputs: each client's typical answer size, kept bounded, seeded from the ledger."""

from __future__ import annotations

import doctest
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest
from support.app import start_app
from support.daemon import process_env, remove_home, short_home

from cortexd.bookkeeping import recent_outputs
from cortexd.bookkeeping.recent_outputs import RecentOutputs
from cortexd.context.environment import Environment
from cortexd.context.paths import Paths
from cortexd.daemon.run import LEDGER_NAME
from cortexd.ledger import CallRecord, seeds, store
from cortexd.routing.providers import Usage


def test_the_docstring_example() -> None:
    result = doctest.testmod(recent_outputs)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("outputs", "typical"),
    [
        ([], None),
        ([300, 200, 100, 400], None),  # four calls say nothing yet
        ([300, 200, 100, 400, 500], 500),  # nearest rank: the 5th of 5
        (list(range(1, 11)), 9),  # the 9th of 10
        (list(range(100, 0, -1)), 58),  # the last 64 only (64…1), in any order: the 58th
        (list(range(1, 101)), 94),  # 37…100: the 58th
        ([0] * 9 + [64_000], 0),  # one answer cut at the cap moves nothing
        ([250] * 10, 250),
        ([-5, 10, 10, 10, 10], 10),  # a bogus negative count is kept as 0
    ],
)
def test_typical_is_the_90th_percentile(outputs: list[int], typical: int | None) -> None:
    recent = RecentOutputs()
    for tokens in outputs:
        recent.observe("claude-cli", tokens)
    assert recent.typical("claude-cli") == typical


def test_only_the_latest_calls_of_a_client_count() -> None:
    recent = RecentOutputs(per_client=5)
    for tokens in (60_000, 60_000, 60_000, 100, 200, 300, 400, 500):
        recent.observe("codex_exec", tokens)
    assert recent.typical("codex_exec") == 500  # the big answers of old have left


def test_clients_are_apart_and_unnamed_ones_not_kept() -> None:
    recent = RecentOutputs()
    for _ in range(5):
        recent.observe("claude-cli", 300)
        recent.observe("codex_exec", 2000)
        recent.observe(None, 10)
    assert (recent.typical("claude-cli"), recent.typical("codex_exec")) == (300, 2000)
    assert recent.typical(None) is None and recent.typical("zed") is None
    assert recent.names() == ("claude-cli", "codex_exec")


def test_the_client_seen_least_recently_goes_first() -> None:
    recent = RecentOutputs(clients=2, min_calls=1)
    recent.observe("a", 1)
    recent.observe("b", 2)
    recent.observe("a", 3)  # 'a' seen again: 'b' is now the oldest
    recent.observe("c", 4)
    assert (recent.typical("a"), recent.typical("b"), recent.typical("c")) == (3, None, 4)
    assert recent.names() == ("a", "c")


def test_typical_changes_nothing() -> None:
    recent = RecentOutputs(clients=2, min_calls=1)
    recent.observe("a", 1)
    recent.observe("b", 2)
    recent.typical("a")  # asking is not seeing: 'a' stays the oldest
    recent.observe("c", 3)
    assert recent.typical("a") is None and recent.typical("b") == 2


def test_seeding_puts_the_ledgers_calls_before_those_seen_live() -> None:
    recent = RecentOutputs(per_client=4, clients=3, min_calls=1)
    recent.observe("live", 7)
    recent.observe("both", 900)
    recent.seed([("old", [1, 2]), ("both", [10, 20, 30, 40]), ("older-than-live", [5])])
    # 'both' keeps its newest four: three from the ledger, then the live one.
    assert recent.outputs("both") == (20, 30, 40, 900)
    # Seeded clients count as seen before any live one; three fit, 'old' went first.
    assert recent.names() == ("older-than-live", "live", "both")


# --- seeding from the ledger ------------------------------------------------------------------


def answered(
    cid: str, client: str | None, output_tokens: int, at: float, **kw: object
) -> CallRecord:
    base = CallRecord(
        id=cid,
        started_at=at,
        task="Code review",
        decided_by="classified",
        outcome="ok",
        client=client,
        usage=Usage(input_tokens=1000, output_tokens=output_tokens),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def claude_and_codex(now: float) -> list[CallRecord]:
    """70 answers of Claude Code, 6 of Codex, and calls that must not count."""
    calls = [answered(f"cc{i:03d}", "claude-cli", 100 + i, now - 1000 + i) for i in range(70)]
    calls += [answered(f"cx{i}", "codex_exec", 1000 * (i + 1), now - 500 + i) for i in range(6)]
    calls += [
        answered("err", "codex_exec", 64_000, now - 10, outcome="error"),
        answered("cut", "codex_exec", 50_000, now - 9, outcome="partial"),
        answered("emb", "codex_exec", 0, now - 8, kind="embeddings"),
        answered("anon", None, 10, now - 7),
        answered("zed1", "zed", 42, now - 2000),  # seen first, longest ago
    ]
    return calls


def write(db: sqlite3.Connection, calls: list[CallRecord]) -> None:
    db.execute("BEGIN")
    store.CallWriter(store.secret(db))(db, calls)
    db.execute("COMMIT")


def test_the_ledger_gives_each_clients_latest_answers(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "ledger.sqlite3")
    write(db, claude_and_codex(time.time()))
    found = seeds.recent_outputs(db, per_client=64, clients=64)
    assert [client for client, _ in found] == ["zed", "claude-cli", "codex_exec"]
    history = dict(found)
    assert history["claude-cli"] == [100 + i for i in range(6, 70)]  # the last 64, oldest first
    assert history["codex_exec"] == [1000, 2000, 3000, 4000, 5000, 6000]
    assert history["zed"] == [42]
    # The clients seen last only: zed is left out.
    assert [c for c, _ in seeds.recent_outputs(db, per_client=2, clients=2)] == [
        "claude-cli",
        "codex_exec",
    ]
    recent = RecentOutputs()
    recent.seed(found)
    assert recent.typical("claude-cli") == sorted(history["claude-cli"])[57]  # ceil(.9 × 64)
    assert recent.typical("codex_exec") == 6000
    assert recent.typical("zed") is None  # one answer is not enough
    db.close()


def test_an_empty_ledger_seeds_nothing(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "ledger.sqlite3")
    assert seeds.recent_outputs(db, per_client=64, clients=64) == []
    db.close()


def test_the_daemon_seeds_at_start_from_its_ledger() -> None:
    home = short_home()
    env = process_env({}) | {"CORTEX_HOME": str(home)}
    db = store.connect(Paths.resolve(Environment.read(env)).state_dir / LEDGER_NAME)
    write(db, claude_and_codex(time.time()))
    db.close()
    app = start_app(home)
    try:
        recent = app.services.recent_outputs
        assert recent.typical("codex_exec") == 6000
        assert recent.typical("claude-cli") == 100 + 6 + 57
    finally:
        app.stop()
        remove_home(home)

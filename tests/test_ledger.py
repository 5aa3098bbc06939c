"""The ledger in-process: migrations, the group-commit writer, signals, queries, months."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.canary import ANTHROPIC_KEY

from cortexd.ledger import (
    MIGRATIONS,
    CallRecord,
    Feedback,
    Ledger,
    SchemaError,
    call_views,
    migrate,
    queries,
    store,
)
from cortexd.ledger.migrations import applied
from cortexd.ledger.months import Month, PeriodError, parse_since
from cortexd.ledger.signals import Seen, own_signals, prompt_key, signals_from_next
from cortexd.ledger.writer import quantile
from cortexd.routing.dispatch import Attempt
from cortexd.routing.providers import Usage

CANARY = ANTHROPIC_KEY


def attempt(call_id: str, model: str = "sonnet", **kw: object) -> Attempt:
    base = Attempt(
        request_id=call_id,
        number=1,
        task="Code review",
        provider="anthropic",
        model=model,
        model_id=f"claude-{model}",
        outcome="ok",
        usage=Usage(input_tokens=100, output_tokens=20),
        first_token_s=0.2,
        total_s=0.5,
        cost_usd=Decimal("0.0006"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def call(call_id: str, **kw: object) -> CallRecord:
    base = CallRecord(
        id=call_id,
        started_at=time.time(),
        task="Code review",
        decided_by="classified",
        outcome="ok",
        attempts=(attempt(call_id),),
        client="zed",
        model="sonnet",
        provider="anthropic",
        usage=Usage(input_tokens=100, output_tokens=20),
        total_s=0.5,
        first_token_s=0.2,
        prompt=f"review {call_id}",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = store.connect(tmp_path / "ledger.sqlite3")
    yield connection
    connection.close()


@contextlib.asynccontextmanager
async def running(path: Path, **options: Any) -> AsyncIterator[Ledger]:
    """A started ledger at `path`, closed (its queue committed) on leaving."""
    ledger = Ledger(path, synchronous="NORMAL", **options)
    ledger.open()
    await ledger.start()
    try:
        yield ledger
    finally:
        ledger.close()


def write(db: sqlite3.Connection, *calls: CallRecord, keep: bool = False) -> None:
    db.execute("BEGIN")
    store.CallWriter(store.secret(db), [CANARY], keep_contents=keep)(db, list(calls))
    db.execute("COMMIT")


# --- migrations ---------------------------------------------------------------------------


def test_an_empty_database_gets_every_migration_in_order() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    assert migrate(db) == [name for name, _ in MIGRATIONS]
    assert applied(db) == [name for name, _ in MIGRATIONS]
    assert migrate(db) == []  # idempotent
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"calls", "attempts", "feedback", "signals", "contents", "meta"} <= tables


def _row_of_version(db: sqlite3.Connection, version: int, call_id: str) -> None:
    """A call as a cortexd at `version` migrations would have written it."""
    db.execute(
        "INSERT INTO calls (id, started_at, kind, client, project, task, decided_by, chain,"
        " reasons, model, provider, fallback, local_only, stream, outcome, completed,"
        " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
        " reasoning_tokens, total_s, cost_pico_usd, price_unknown)"
        " VALUES (?, ?, 'chat', 'vim', NULL, 'Code review', 'classified', '[\"sonnet\"]',"
        " '[]', 'sonnet', 'anthropic', 0, 0, 0, 'ok', 1, 10, 2, 0, 0, 0, 0.1, 42000000, 0)",
        (call_id, time.time()),
    )
    db.execute(
        "INSERT INTO attempts (call_id, seq, number, provider, model, model_id, outcome,"
        " fallback, retry, second_opinion, input_tokens, output_tokens, cache_read_tokens,"
        " cache_write_tokens, reasoning_tokens, started_s, first_token_s, total_s,"
        " error_class, error, skip_reason, cost_pico_usd, price_unknown)"
        " VALUES (?, 0, 1, 'anthropic', 'sonnet', 'claude-sonnet', 'ok',"
        " 0, 0, 0, 10, 2, 0, 0, 0, 0.0, 0.05, 0.1, NULL, NULL, NULL, 42000000, 0)",
        (call_id,),
    )
    if version >= 2:
        db.execute(
            "INSERT INTO feedback (call_id, at, rating, note) VALUES (?, ?, 'bad', 'old')",
            (call_id, time.time()),
        )


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS)))
def test_every_earlier_version_upgrades_keeping_its_calls(version: int) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, upto=version)
    assert len(applied(db)) == version
    _row_of_version(db, version, "old-call")
    ran = migrate(db)
    assert ran == [name for name, _ in MIGRATIONS[version:]]
    old = call_views.why(db, "old-call")
    assert old is not None
    assert old["cost_usd"] == "0.000042" and old["attempts"][0]["model"] == "sonnet"
    assert old["json_requested"] is False and old["signals"] == []
    assert old["achieved"] is (version < 2)  # the old 'bad' rating still counts
    assert (old["session"], old["turn"], old["cache_write_1h_tokens"]) == (None, None, 0)
    assert old["attempts"][0]["cache_write_1h_tokens"] == 0
    assert old["usage_estimated"] is False and old["attempts"][0]["role"] == "answer"
    store.CallWriter(store.secret(db))(db, [call("new-call")])  # today's rows fit too
    assert call_views.why(db, "new-call") is not None


def test_sessions_and_hour_cache_writes_come_with_m007() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, upto=6)
    _row_of_version(db, 6, "old-call")
    assert migrate(db, upto=7) == ["m007_sessions_and_hour_cache_writes"]

    def columns(table: str) -> dict[str, tuple[str, int, Any]]:
        rows = db.execute(f"PRAGMA table_info({table})").fetchall()
        return {name: (kind, notnull, default) for _, name, kind, notnull, default, _ in rows}

    calls, attempts = columns("calls"), columns("attempts")
    assert calls["session"] == calls["turn"] == ("TEXT", 0, None)
    assert (
        calls["cache_write_1h_tokens"] == attempts["cache_write_1h_tokens"] == ("INTEGER", 1, "0")
    )
    indexes = {r[1] for r in db.execute("PRAGMA index_list(calls)")}
    assert "calls_by_client" in indexes
    assert db.execute("SELECT session, cache_write_1h_tokens FROM calls").fetchall() == [(None, 0)]


def test_a_database_from_a_newer_cortexd_is_refused() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db)
    db.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    with pytest.raises(SchemaError, match="newer cortexd"):
        migrate(db)


def test_a_failing_migration_leaves_the_last_complete_version() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, upto=1)
    db.execute("CREATE TABLE feedback (x)")  # m002 will collide with it
    with pytest.raises(sqlite3.OperationalError):
        migrate(db)
    assert applied(db) == [MIGRATIONS[0][0]]
    assert db.execute("SELECT sql FROM sqlite_master WHERE name = 'feedback'").fetchone() == (
        "CREATE TABLE feedback (x)",
    )


def test_the_database_is_in_wal_mode_and_private(db: sqlite3.Connection, tmp_path: Path) -> None:
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert (tmp_path / "ledger.sqlite3").stat().st_mode & 0o777 == 0o600


# --- writing -------------------------------------------------------------------------------


def test_secrets_and_prompts_stay_out_unless_asked(db: sqlite3.Connection, tmp_path: Path) -> None:
    leaky = attempt("c1", outcome="error", error=f"401 Incorrect API key provided: {CANARY}")
    write(db, call("c1", attempts=(leaky,), prompt="my secret plan", error=f"key {CANARY}"))
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert CANARY.encode() not in data
    assert b"my secret plan" not in data
    assert db.execute("SELECT COUNT(*) FROM contents").fetchone() == (0,)


def test_prompts_are_kept_when_turned_on_and_pruned(db: sqlite3.Connection) -> None:
    write(db, call("c1", answer="an answer", started_at=1000.0), keep=True)
    assert db.execute("SELECT prompt, answer FROM contents").fetchall() == [
        ("review c1", "an answer")
    ]
    assert store.prune_contents(db, before=2000.0) == 1
    assert db.execute("SELECT COUNT(*) FROM contents").fetchone() == (0,)


@pytest.mark.anyio
async def test_many_calls_at_once_are_all_recorded_once(tmp_path: Path) -> None:
    async with running(tmp_path / "l.sqlite3") as ledger:
        calls = [
            call(
                f"c{i:05d}", attempts=(attempt(f"c{i:05d}", outcome="error"), attempt(f"c{i:05d}"))
            )
            for i in range(2000)
        ]
        results = await asyncio.gather(*(ledger.record(c) for c in calls))
        assert all(results)
        # And from threads too, as a report or a rating would come.
        threads = [
            threading.Thread(target=lambda n=n: ledger.submit(call(f"t{n}"))) for n in range(50)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    db = sqlite3.connect(tmp_path / "l.sqlite3")
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM calls").fetchone() == (2050, 2050)
    assert db.execute("SELECT COUNT(*) FROM attempts").fetchone() == (4050,)
    assert ledger.health()["largest_group"] > 1  # commits were shared
    assert ledger.health()["jobs"] == 2050


@pytest.mark.anyio
async def test_a_bad_row_fails_alone(tmp_path: Path) -> None:
    async with running(tmp_path / "l.sqlite3") as ledger:
        assert await ledger.record(call("same"))
        outcomes = await asyncio.gather(ledger.record(call("same")), ledger.record(call("other")))
    assert outcomes == [False, True]
    db = sqlite3.connect(tmp_path / "l.sqlite3")
    assert db.execute("SELECT id FROM calls ORDER BY id").fetchall() == [("other",), ("same",)]


@pytest.mark.anyio
async def test_a_locked_database_delays_rows_but_loses_none(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    async with running(path, commit_timeout_s=0.3) as ledger:  # closing commits the queue
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            assert await ledger.record(call("waited")) is False  # the answer does not wait
            assert ledger.health()["not_committed_in_time"] == 1
        finally:
            blocker.execute("COMMIT")
            blocker.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT id FROM calls").fetchall() == [("waited",)]


@pytest.mark.anyio
async def test_ratings_go_to_known_calls_only(tmp_path: Path) -> None:
    async with running(tmp_path / "l.sqlite3") as ledger:
        await ledger.record(call("rated"))
        assert await ledger.rate(Feedback("rated", "bad", "wrong file"))
        assert not await ledger.rate(Feedback("nobody", "good"))
        data = await ledger.read(call_views.why, "rated")
    assert data is not None and data["achieved"] is False
    assert data["ratings"][0]["note"] == "wrong file"


@pytest.mark.anyio
async def test_session_turn_and_hour_cache_writes_go_through_the_writer(tmp_path: Path) -> None:
    usage = Usage(
        input_tokens=5000, output_tokens=40, cache_write_tokens=3000, cache_write_1h_tokens=2000
    )
    agent = call(
        "agent",
        client="claude-cli",
        session="0f9d6c3e-5b2a-4c1e-9a57-3d2f1b8e7a60",
        turn="turn-7",
        usage=usage,
        attempts=(attempt("agent", usage=usage),),
    )
    async with running(tmp_path / "l.sqlite3") as ledger:
        assert await ledger.record(agent)
        assert await ledger.record(call("plain"))
        shown = await ledger.read(call_views.why, "agent")
        latest = await ledger.read(call_views.recent_calls, limit=2)
    assert shown is not None
    assert (shown["client"], shown["session"], shown["turn"]) == (
        "claude-cli",
        "0f9d6c3e-5b2a-4c1e-9a57-3d2f1b8e7a60",
        "turn-7",
    )
    assert (shown["cache_write_tokens"], shown["cache_write_1h_tokens"]) == (3000, 2000)
    assert shown["attempts"][0]["cache_write_1h_tokens"] == 2000
    assert [(c["id"], c["session"], c["turn"]) for c in latest] == [
        ("agent", "0f9d6c3e-5b2a-4c1e-9a57-3d2f1b8e7a60", "turn-7"),
        ("plain", None, None),
    ]


# --- implicit signals ------------------------------------------------------------------------


def seen(cid: str, at: float, **kw: object) -> Seen:
    base = Seen(cid, at, "zed", "Code review", "classified", "sonnet", "k1")
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_same_prompt_again_within_minutes_marks_the_earlier_call() -> None:
    found = signals_from_next(seen("b", 200.0), [seen("a", 100.0)])
    assert [(s.call_id, s.kind) for s in found] == [("a", "asked_again")]


@pytest.mark.parametrize(
    "earlier",
    [
        seen("a", 100.0, prompt_key="other"),  # another prompt
        seen("a", 100.0, client="vim"),  # another client
        seen("a", -400.0),  # too long ago
    ],
)
def test_no_repeat_signal_for_other_prompts_clients_or_old_calls(earlier: Seen) -> None:
    assert signals_from_next(seen("b", 200.0), [earlier]) == []


def test_an_override_right_after_marks_the_call_it_overrode() -> None:
    new = seen("b", 150.0, decided_by="override", model="opus", prompt_key="k2")
    found = signals_from_next(new, [seen("a", 100.0, prompt_key="k9")])
    assert [(s.call_id, s.kind) for s in found] == [("a", "overridden")]


@pytest.mark.parametrize(
    "earlier",
    [
        seen(
            "a", 100.0, decided_by="explicit-model", model="gpt-4o"
        ),  # the client always names one
        seen("a", 100.0, model="opus"),  # the same model again: not a correction
        seen("a", 100.0, task="Bulk operations", prompt_key="k3"),  # other work
    ],
)
def test_overrides_that_say_nothing_about_the_call_before(earlier: Seen) -> None:
    new = seen("b", 150.0, decided_by="explicit-model", model="opus", prompt_key="k2")
    assert [s.kind for s in signals_from_next(new, [earlier])] == []


def test_a_call_speaks_against_itself_for_bad_json_and_disagreement() -> None:
    bad = call("x", json_requested=True, json_valid=False, verdict_agree=False)
    assert {s.kind for s in own_signals(bad)} == {"invalid_json", "second_opinion_disagrees"}
    assert own_signals(call("y", json_requested=True, json_valid=True, verdict_agree=True)) == []


def test_prompt_keys_depend_on_the_secret() -> None:
    assert prompt_key("hi there", b"a") != prompt_key("hi there", b"b")
    assert prompt_key("   ", b"a") is None


def test_completed_means_whole_and_valid() -> None:
    assert call("a").completed
    assert not call("a", finish_reason="length").completed
    assert not call("a", outcome="partial").completed
    assert not call("a", json_valid=False).completed


# --- queries ---------------------------------------------------------------------------------


def test_stats_count_tries_rates_and_latency(db: sqlite3.Connection) -> None:
    now = time.time()
    write(
        db,
        call("a", started_at=now - 30, attempts=(attempt("a", total_s=1.0),)),
        call(
            "b", started_at=now - 20, attempts=(attempt("b", total_s=3.0),), finish_reason="length"
        ),
        call(
            "c",
            started_at=now - 10,
            model="codex",
            fallback=True,
            attempts=(
                attempt("c", outcome="error", error_class="OverloadedError", cost_usd=None),
                attempt("c", model="codex", provider="openai", cost_usd=None, number=2),
            ),
        ),
    )
    data = queries.stats(db, since=now - 60, until=now)
    rows = {r["model"]: r for r in data["rows"]}
    sonnet, codex = rows["sonnet"], rows["codex"]
    assert (sonnet["tries"], sonnet["answered"], sonnet["errors"]) == (3, 2, 1)
    assert sonnet["completed_rate"] == pytest.approx(1 / 3, abs=1e-3)  # 'a' only
    assert sonnet["achieved_rate"] == 0.5  # of the two it answered
    assert sonnet["total_s"] == {"p50": 1.0, "p95": 3.0}
    assert sonnet["cost_usd"] == "0.0012" and sonnet["unpriced_tries"] == 1
    assert codex["answered"] == 1 and codex["cost_usd"] == "0" and codex["unpriced_tries"] == 1
    assert data["spend_per_day"][-1]["cost_usd"] == "0.0012"


@pytest.mark.parametrize("n", [1, 2, 3, 19, 20, 21, 40, 101])
def test_stats_quantiles_are_the_nearest_rank_of_every_answered_try(
    db: sqlite3.Connection, n: int
) -> None:
    # The nearest rank of the sorted values (`writer.quantile`), per group.
    now = time.time()
    totals = [((i * 7919) % 1000) / 100 + 0.01 for i in range(n)]  # shuffled, no repeats
    calls = [
        call(
            f"q{i}",
            started_at=now - 50 + i * 0.01,
            attempts=(attempt(f"q{i}", total_s=v, first_token_s=None if i % 3 else v / 2),),
        )
        for i, v in enumerate(totals)
    ]
    failed = attempt("x", outcome="error", error_class="OverloadedError", total_s=99.0)
    calls.append(call("x", started_at=now - 5, attempts=(failed,)))  # a failure: no latency
    write(db, *calls)
    row = next(r for r in queries.stats(db, since=now - 60, until=now)["rows"])
    ttfts = sorted(v / 2 for i, v in enumerate(totals) if i % 3 == 0)
    assert row["total_s"] == {
        "p50": round(quantile(sorted(totals), 0.5) or 0, 4),
        "p95": round(quantile(sorted(totals), 0.95) or 0, 4),
    }
    assert row["first_token_s"] == {
        "p50": round(quantile(ttfts, 0.5) or 0, 4),
        "p95": round(quantile(ttfts, 0.95) or 0, 4),
    }


def _agents_month(db: sqlite3.Connection, now: float) -> None:
    """Claude Code in two sessions (one with a fallback), Codex in one, a script in none."""
    write(
        db,
        call("cc1", started_at=now - 50, client="claude-cli", session="s-a", turn="t1"),
        call("cc2", started_at=now - 40, client="claude-cli", session="s-a", turn="t2",
             model="haiku",
             attempts=(attempt("cc2", outcome="error", cost_usd=Decimal("0.0001")),
                       attempt("cc2", model="haiku", number=2, cost_usd=Decimal("0.0002")))),
        call("cc3", started_at=now - 30, client="claude-cli", session="s-b",
             attempts=(attempt("cc3", cost_usd=Decimal("0.01")),)),
        call("cx1", started_at=now - 20, client="codex_exec", session="s-c",
             model="codex", provider="openai",
             attempts=(attempt("cx1", model="codex", provider="openai", cost_usd=None),)),
        call("sh1", started_at=now - 10, client=None),
    )  # fmt: skip


def test_stats_by_client_sum_each_clients_cost(db: sqlite3.Connection) -> None:
    now = time.time()
    _agents_month(db, now)
    data = queries.stats(db, since=now - 60, until=now, by="client")
    rows = {(r["client"], r["model"]): r for r in data["rows"]}
    assert rows["claude-cli", "sonnet"]["tries"] == 3  # cc1, cc2's failed try, cc3
    assert rows["claude-cli", "haiku"]["cost_usd"] == "0.0002"
    assert data["totals"] == [
        {"client": "claude-cli", "calls": 3, "tries": 4, "input_tokens": 400,
         "output_tokens": 80, "cost_usd": "0.0109", "unpriced_tries": 0},
        {"client": None, "calls": 1, "tries": 1, "input_tokens": 100, "output_tokens": 20,
         "cost_usd": "0.0006", "unpriced_tries": 0},
        {"client": "codex_exec", "calls": 1, "tries": 1, "input_tokens": 100,
         "output_tokens": 20, "cost_usd": "0", "unpriced_tries": 1},
    ]  # fmt: skip


def test_stats_by_session_give_one_sessions_cost(db: sqlite3.Connection) -> None:
    now = time.time()
    _agents_month(db, now)
    data = queries.stats(db, since=now - 60, until=now, by="session")
    totals = {t["session"]: (t["calls"], t["cost_usd"]) for t in data["totals"]}
    assert totals == {
        "s-a": (2, "0.0009"),
        "s-b": (1, "0.01"),
        "s-c": (1, "0"),
        None: (1, "0.0006"),
    }
    assert {r["session"] for r in data["rows"]} == {"s-a", "s-b", "s-c", None}
    assert "totals" not in queries.stats(db, since=now - 60, until=now)
    with pytest.raises(ValueError, match="client, project, session"):
        queries.stats(db, since=now - 60, until=now, by="turn")


def test_costs_flag_unknown_prices_and_project(db: sqlite3.Connection) -> None:
    now = time.time()
    write(
        db,
        call("a", started_at=now - 5),
        call("b", started_at=now - 4, attempts=(attempt("b", model="mystery", cost_usd=None),)),
    )
    data = queries.costs(db, now=now)
    assert data["total_usd"] == "0.0006"
    assert data["unpriced"] == [{"model": "mystery", "provider": "anthropic", "tries": 1}]
    assert Decimal(data["projected_usd"]) >= Decimal("0.00")
    assert call_views.why(db, "b")["cost_usd"] is None  # type: ignore[index]


@pytest.fixture
def new_york() -> Iterator[None]:
    import os

    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_months_are_the_users_local_calendar_months(db: sqlite3.Connection, new_york: None) -> None:
    # 2026-12-01 00:30 in New York is still November 30th in UTC… and the reverse.
    december = time.mktime((2026, 12, 1, 0, 30, 0, 0, 0, -1))
    november = december - 3600
    write(db, call("dec", started_at=december), call("nov", started_at=november))
    data = queries.costs(db, now=december + 60)
    assert data["month"] == "2026-12" and data["total_usd"] == "0.0006"
    month = Month.of(december)
    assert time.localtime(month.start)[:4] == (2026, 12, 1, 0)
    assert month.days == 31
    assert Month.of(time.mktime((2026, 3, 15, 12, 0, 0, 0, 0, -1))).days == pytest.approx(
        31 - 1 / 24
    )  # DST starts in March: one hour short


@pytest.mark.parametrize(
    ("text", "ok"), [("2026-11-01", True), ("7d", True), ("today", True), ("soon", False)]
)
def test_since_reads_dates_and_spans(text: str, ok: bool) -> None:
    if ok:
        assert parse_since(text, time.time()) < time.time()
    else:
        with pytest.raises(PeriodError, match="7d"):
            parse_since(text, time.time())


def test_a_call_id_prefix_must_be_unique(db: sqlite3.Connection) -> None:
    write(db, call("abcdef111"), call("abcdef222"))
    assert call_views.find_call(db, "abcdef1") == "abcdef111"
    with pytest.raises(call_views.AmbiguousCallError):
        call_views.find_call(db, "abcdef")
    assert call_views.find_call(db, "abc") is None  # too short to guess from


def test_a_wal_grown_under_a_long_read_is_cut_back_once_it_is_reset(tmp_path: Path) -> None:
    from cortexd.ledger.store import WAL_SIZE_LIMIT, connect

    path = tmp_path / "ledger.sqlite3"
    db = connect(path, synchronous="NORMAL")
    wal = Path(f"{path}-wal")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM meta").fetchone()  # a snapshot held, as a report's
    blob = b"x" * 100_000
    for i in range(100):  # 10 MB: the checkpoints cannot reset the WAL under the reader
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{i}", blob))
    assert wal.stat().st_size > 2 * WAL_SIZE_LIMIT
    reader.execute("COMMIT")
    reader.close()
    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    db.execute("INSERT INTO meta (key, value) VALUES ('after', x'00')")  # resets the WAL
    assert wal.stat().st_size <= WAL_SIZE_LIMIT
    db.close()


@pytest.mark.anyio
async def test_a_reader_maps_the_file_and_cannot_write(tmp_path: Path) -> None:
    # Mapped: the report's month-wide reads every 30 s copied pages into a cache of their
    # own, and the heap grew a little each time (benchmarks.memory, 10k → 50k calls).
    from cortexd.ledger.ledger import READER_MAP_BYTES

    async with running(tmp_path / "ledger.sqlite3") as ledger:
        reader = ledger.reader()
        try:
            assert reader.execute("PRAGMA mmap_size").fetchone()[0] == READER_MAP_BYTES
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                reader.execute("INSERT INTO meta (key, value) VALUES ('x', x'00')")
        finally:
            reader.close()


def test_stats_percentiles_leave_batches_out_and_follow_the_grouping(
    db: sqlite3.Connection,
) -> None:
    # Literal figures: a batch's wait is not the model's speed, and `by` splits the groups.
    now = time.time()
    times = {"zed": [1.0, 2.0, 3.0], "vim": [10.0, 20.0]}
    calls = [
        call(f"{who}{i}", client=who, started_at=now - 30 + i, attempts=(attempt(f"{who}{i}",
             total_s=v, first_token_s=v / 10),))
        for who, values in times.items() for i, v in enumerate(values)
    ]  # fmt: skip
    calls.append(
        call("b", client="zed", batch="batch_1", started_at=now - 2,
             attempts=(attempt("b", total_s=3600.0, first_token_s=3600.0),))
    )  # fmt: skip
    write(db, *calls)
    whole = queries.stats(db, since=now - 60, until=now)["rows"]
    assert [(r["tries"], r["total_s"]) for r in whole] == [(6, {"p50": 3.0, "p95": 20.0})]
    by_client = {
        r["client"]: r for r in queries.stats(db, since=now - 60, until=now, by="client")["rows"]
    }
    assert by_client["zed"]["tries"] == 4  # the batch's try counts as a try
    assert by_client["zed"]["total_s"] == {"p50": 2.0, "p95": 3.0}
    assert by_client["zed"]["first_token_s"] == {"p50": 0.2, "p95": 0.3}
    assert by_client["vim"]["total_s"] == {"p50": 10.0, "p95": 20.0}

"""The SQL that writes the ledger: calls with their attempts and signals, feedback, pruning.

Each runs inside the writer's transaction; none commits.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from cortexd.ledger.migrations import migrate
from cortexd.ledger.records import CallRecord, Feedback, to_pico
from cortexd.ledger.signals import (
    OVERRIDE_WINDOW_S,
    REPEAT_WINDOW_S,
    Seen,
    own_signals,
    prompt_key,
    signals_from_next,
)
from cortexd.routing.providers import redact

T = TypeVar("T")


#: What the WAL file is cut back to after a checkpoint resets it: SQLite's checkpoint
#: size (1,000 pages of 4 KiB).
WAL_SIZE_LIMIT = 4 * 1024 * 1024


def connect(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """The writing connection: WAL, foreign keys, the schema brought up to date.

    `synchronous=FULL` fsyncs the log at each commit, so a committed call survives a crash
    of the machine as well as of the daemon; group commit keeps that to one fsync per group.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    # 8 MiB of page cache (SQLite's default is 2): past it, each insert into the random-id
    # indexes reads pages back, and the CPU per call grows with the file. 32 MiB (before
    # issue 24) kept it flat for longer, but the daemon's memory grew with the file to fill
    # it: 8 MiB holds the id indexes of about 100,000 calls.
    db.execute("PRAGMA cache_size=-8192")
    # The WAL grows past its checkpoint size while a long read (the report's snapshot)
    # keeps it from being reset; once it is reset, it is cut back to this instead of
    # keeping its largest size on disk for good (24–50 MiB after 50,000 calls).
    db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    migrate(db)
    path.chmod(0o600)  # prompts may be stored here
    return db


def secret(db: sqlite3.Connection) -> bytes:
    """The key of the prompt hashes (made by migration m004)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'prompt_key_secret'").fetchone()
    return bytes(row[0])


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


_CALL_SQL = (
    "INSERT INTO calls (id, started_at, kind, client, project, task, decided_by, override,"
    " routing_generation, chain, reasons, model, provider, fallback, local_only, stream,"
    " outcome, completed, finish_reason, error_class, error, input_tokens, output_tokens,"
    " cache_read_tokens, cache_write_tokens, reasoning_tokens, first_token_s, total_s,"
    " cost_pico_usd, price_unknown, json_requested, json_valid, second_opinion,"
    " verdict_agree, prompt_key, session, turn, cache_write_1h_tokens, usage_estimated,"
    " agent_model, losses, moved, batch) VALUES "
)
# Columns named: those later migrations added sit at the table's end whatever their order here.
_ATTEMPT_SQL = (
    "INSERT INTO attempts (call_id, seq, number, provider, model, model_id, outcome, fallback,"
    " retry, second_opinion, input_tokens, output_tokens, cache_read_tokens,"
    " cache_write_tokens, reasoning_tokens, started_s, first_token_s, total_s, error_class,"
    " error, skip_reason, cost_pico_usd, price_unknown, cache_write_1h_tokens,"
    " usage_estimated, role) VALUES "
)


def insert_rows(db: sqlite3.Connection, head: str, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert `rows` with few statements: multi-row VALUES of a power-of-two number of
    rows each (13 rows: 8, 4 and 1).

    Not executemany(): it steps once per row, giving up the GIL each time, and under load
    the writer thread then waits for the busy event loop at every row. Not one statement of
    exactly `len(rows)` rows either: each length is another statement in the connection's
    cache of 128, and a cache of large ones grew the daemon's memory by megabytes over tens
    of thousands of calls (`benchmarks.memory`); powers of two make at most a dozen shapes.

    >>> [len(c) for c in _chunks(list(range(13)), 32)]
    [8, 4, 1]
    """
    if not rows:
        return
    width = len(rows[0])
    # 32,766 parameters a statement since SQLite 3.32; 999 before.
    per = max(1, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    one = "(" + ",".join("?" * width) + ")"
    for chunk in _chunks(rows, per):
        db.execute(head + ",".join([one] * len(chunk)), [v for row in chunk for v in row])


def _chunks(rows: Sequence[T], most: int) -> Iterator[Sequence[T]]:
    """`rows` in consecutive chunks of power-of-two lengths, each at most `most` long."""
    start = 0
    while start < len(rows):
        size = 1 << (min(len(rows) - start, most).bit_length() - 1)
        yield rows[start : start + size]
        start += size


_SEEN = "SELECT id, started_at, client, task, decided_by, model, prompt_key FROM calls"


class CallWriter:
    """Writes calls in groups: a few statements per group, whatever its size, because the
    writer thread gives up the GIL at every statement and must wait to take it back from
    a busy event loop. The calls the signal rules compare with are kept in memory (the
    last minutes of each client), read from the database once at start.
    """

    def __init__(self, key: bytes, secrets: Sequence[str] = (), keep_contents: bool = False):
        self.key = key
        self.secrets = tuple(secrets)
        self.keep_contents = keep_contents
        self._recent: dict[str | None, collections.deque[Seen]] = {}
        self._seeded = False

    def _seed(self, db: sqlite3.Connection, now: float) -> None:
        window = max(REPEAT_WINDOW_S, OVERRIDE_WINDOW_S)
        for row in db.execute(
            f"{_SEEN} WHERE started_at >= ? ORDER BY started_at", (now - window,)
        ):
            self._remember(Seen(*row))
        self._seeded = True

    def _remember(self, seen: Seen) -> None:
        recent = self._recent.setdefault(seen.client, collections.deque(maxlen=50))
        recent.append(seen)
        window = max(REPEAT_WINDOW_S, OVERRIDE_WINDOW_S)
        while recent and recent[0].started_at < seen.started_at - window:
            recent.popleft()

    def __call__(self, db: sqlite3.Connection, calls: Sequence[CallRecord]) -> list[CallRecord]:
        """Insert `calls` with their attempts, signals and (when kept) contents."""
        if not self._seeded:
            self._seed(db, min(c.started_at for c in calls))
        call_rows, attempt_rows, signal_rows, content_rows = [], [], [], []
        for call in calls:
            pkey = prompt_key(call.prompt, self.key)
            call_rows.append(self._call_row(call, pkey))
            attempt_rows += self._attempt_rows(call)
            seen = Seen(
                call.id, call.started_at, call.client, call.task, call.decided_by, call.model, pkey
            )
            earlier = self._recent.get(call.client, ())
            signals = own_signals(call) + signals_from_next(seen, earlier)
            signal_rows += [(s.call_id, s.kind, call.started_at, s.detail) for s in signals]
            self._remember(seen)
            if self.keep_contents and (call.prompt or call.answer):
                content_rows.append((call.id, call.started_at, call.prompt, call.answer))
        insert_rows(db, _CALL_SQL, call_rows)
        insert_rows(db, _ATTEMPT_SQL, attempt_rows)
        insert_rows(db, "INSERT OR IGNORE INTO signals VALUES ", signal_rows)
        insert_rows(db, "INSERT INTO contents VALUES ", content_rows)
        return list(calls)

    def _call_row(self, call: CallRecord, pkey: str | None) -> tuple[object, ...]:
        u = call.usage
        cost = call.cost_usd
        return (
            call.id, call.started_at, call.kind, call.client, call.project, call.task,
            call.decided_by, call.override, call.routing_generation, json.dumps(call.chain),
            json.dumps([redact(r, self.secrets) for r in call.reasons]), call.model,
            call.provider, int(call.fallback), int(call.local_only), int(call.stream),
            call.outcome, int(call.completed), call.finish_reason, call.error_class,
            None if call.error is None else redact(call.error, self.secrets),
            u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
            u.reasoning_tokens, call.first_token_s, call.total_s, to_pico(cost),
            int(cost is None), int(call.json_requested), _flag(call.json_valid),
            call.second_opinion, _flag(call.verdict_agree), pkey, call.session, call.turn,
            u.cache_write_1h_tokens, int(call.usage_estimated), call.agent_model,
            redact(json.dumps(call.losses), self.secrets) if call.losses else None,
            None if call.moved is None
            else redact(json.dumps(dataclasses.asdict(call.moved)), self.secrets),
            call.batch,
        )  # fmt: skip

    def _attempt_rows(self, call: CallRecord) -> list[tuple[object, ...]]:
        return [
            (
                call.id, seq, a.number, a.provider, a.model, a.model_id, a.outcome,
                int(a.fallback), int(a.retry), int(a.second_opinion), a.usage.input_tokens,
                a.usage.output_tokens, a.usage.cache_read_tokens, a.usage.cache_write_tokens,
                a.usage.reasoning_tokens, a.started_s, a.first_token_s, a.total_s,
                a.error_class, None if a.error is None else redact(a.error, self.secrets),
                a.skip_reason, to_pico(a.cost_usd),
                int(a.cost_usd is None and a.outcome != "skipped"),
                a.usage.cache_write_1h_tokens, int(a.usage_estimated), a.role,
            )
            for seq, a in enumerate(call.attempts)
        ]  # fmt: skip


def insert_feedback(db: sqlite3.Connection, feedback: Feedback) -> bool:
    """Record a rating; False when no call has that id."""
    if db.execute("SELECT 1 FROM calls WHERE id = ?", (feedback.call_id,)).fetchone() is None:
        return False
    db.execute(
        "INSERT INTO feedback (call_id, at, rating, note) VALUES (?, ?, ?, ?)",
        (feedback.call_id, feedback.at, feedback.rating, feedback.note),
    )
    return True


def prune_contents(db: sqlite3.Connection, before: float) -> int:
    """Delete stored prompts and answers older than `before`; returns how many."""
    return db.execute("DELETE FROM contents WHERE stored_at < ?", (before,)).rowcount

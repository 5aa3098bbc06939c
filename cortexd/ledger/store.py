"""The SQL that writes the ledger: a call with its attempts and signals, feedback, pruning.

Each function runs inside the writer's transaction; none commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from cortexd.ledger.migrations import migrate
from cortexd.ledger.records import CallRecord, Feedback, to_pico
from cortexd.ledger.signals import (
    OVERRIDE_WINDOW_S,
    OVERRIDES,
    REPEAT_WINDOW_S,
    Seen,
    own_signals,
    prompt_key,
    signals_from_next,
)
from cortexd.routing.providers import redact


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
    migrate(db)
    path.chmod(0o600)  # prompts may be stored here
    return db


def secret(db: sqlite3.Connection) -> bytes:
    """The key of the prompt hashes (made by migration m004)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'prompt_key_secret'").fetchone()
    return bytes(row[0])


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def insert_call(
    db: sqlite3.Connection,
    call: CallRecord,
    *,
    key: bytes,
    secrets: Sequence[str] = (),
    keep_contents: bool = False,
) -> CallRecord:
    """Write `call`, its attempts and the signals it raises; returns it."""
    u = call.usage
    cost = call.cost_usd
    pkey = prompt_key(call.prompt, key)
    db.execute(
        "INSERT INTO calls (id, started_at, kind, client, project, task, decided_by, override,"
        " routing_generation, chain, reasons, model, provider, fallback, local_only, stream,"
        " outcome, completed, finish_reason, error_class, error, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, reasoning_tokens, first_token_s, total_s,"
        " cost_pico_usd, price_unknown, json_requested, json_valid, second_opinion,"
        " verdict_agree, prompt_key)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            call.id, call.started_at, call.kind, call.client, call.project, call.task,
            call.decided_by, call.override, call.routing_generation, json.dumps(call.chain),
            json.dumps([redact(r, secrets) for r in call.reasons]), call.model, call.provider,
            int(call.fallback), int(call.local_only), int(call.stream), call.outcome,
            int(call.completed), call.finish_reason, call.error_class,
            None if call.error is None else redact(call.error, secrets),
            u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
            u.reasoning_tokens, call.first_token_s, call.total_s, to_pico(cost),
            int(cost is None), int(call.json_requested), _flag(call.json_valid),
            call.second_opinion, _flag(call.verdict_agree), pkey,
        ),
    )  # fmt: skip
    db.executemany(
        "INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                call.id, seq, a.number, a.provider, a.model, a.model_id, a.outcome,
                int(a.fallback), int(a.retry), int(a.second_opinion), a.usage.input_tokens,
                a.usage.output_tokens, a.usage.cache_read_tokens, a.usage.cache_write_tokens,
                a.usage.reasoning_tokens, a.started_s, a.first_token_s, a.total_s,
                a.error_class, None if a.error is None else redact(a.error, secrets),
                a.skip_reason, to_pico(a.cost_usd),
                int(a.cost_usd is None and a.outcome in ("ok", "error")),
            )
            for seq, a in enumerate(call.attempts)
        ],
    )  # fmt: skip
    seen = Seen(call.id, call.started_at, call.client, call.task, call.decided_by, call.model, pkey)
    signals = own_signals(call) + signals_from_next(seen, _before(db, seen))
    db.executemany(
        "INSERT OR IGNORE INTO signals VALUES (?, ?, ?, ?)",
        [(s.call_id, s.kind, call.started_at, s.detail) for s in signals],
    )
    if keep_contents and (call.prompt or call.answer):
        db.execute(
            "INSERT INTO contents VALUES (?, ?, ?, ?)",
            (call.id, call.started_at, call.prompt, call.answer),
        )
    return call


_SEEN = "SELECT id, started_at, client, task, decided_by, model, prompt_key FROM calls"


def _before(db: sqlite3.Connection, new: Seen) -> list[Seen]:
    """The earlier calls the signal rules look at: the same client's last one (when `new`
    overrides) and its last with the same prompt, within the windows."""
    found = []
    if new.decided_by in OVERRIDES:
        last = db.execute(
            f"{_SEEN} WHERE client IS ? AND started_at BETWEEN ? AND ? AND id != ?"
            " ORDER BY started_at DESC LIMIT 1",
            (new.client, new.started_at - OVERRIDE_WINDOW_S, new.started_at, new.id),
        ).fetchone()
        found.append(last)
    if new.prompt_key is not None:
        same = db.execute(
            f"{_SEEN} WHERE prompt_key = ? AND client IS ? AND started_at BETWEEN ? AND ?"
            " AND id != ? ORDER BY started_at DESC LIMIT 1",
            (new.prompt_key, new.client, new.started_at - REPEAT_WINDOW_S, new.started_at, new.id),
        ).fetchone()
        found.append(same)
    return [Seen(*row) for row in found if row is not None]


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

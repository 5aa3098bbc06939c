"""The journal of a batch's submissions to providers' Batch APIs (SQLite, the ledger's writer).

A submission is written before the provider is asked (``submitting``: its key, its lines)
and again after (``submitted``: the provider's batch id). One found ``submitting`` at start
may or may not exist at the provider: it is looked for by its key before anything is sent
again. A submission ends ``collected`` (its results kept) or ``failed`` (the provider would
not take it: its lines go back to the normal path).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cortexd.batch.journal import PENDING

SUBMITTED_LINE = "submitted"
SUBMITTING, SUBMITTED, COLLECTED, FAILED = "submitting", "submitted", "collected", "failed"


@dataclass(frozen=True)
class Submission:
    """One submission as the journal has it."""

    key: str
    provider: str
    url: str
    state: str
    remote_id: str | None
    requests: int
    created_at: float
    submitted_at: float | None


def begin(
    db: sqlite3.Connection,
    key: str,
    batch_id: str,
    provider: str,
    url: str,
    models: Sequence[tuple[int, str]],
) -> None:
    """Before the provider is asked: the submission, and its lines (seq, model) marked as
    in it, each counted as a send, with the model it goes to."""
    db.execute(
        "INSERT INTO provider_batches (key, batch_id, provider, url, state, requests, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key, batch_id, provider, url, SUBMITTING, len(models), time.time()),
    )
    db.executemany(
        "UPDATE batch_lines SET state = ?, submission = ?, model = ?, sends = sends + 1"
        " WHERE batch_id = ? AND seq = ?",
        [(SUBMITTED_LINE, key, model, batch_id, seq) for seq, model in models],
    )


def submitted(db: sqlite3.Connection, key: str, remote_id: str, status: str) -> None:
    """The provider took it: its batch id."""
    db.execute(
        "UPDATE provider_batches SET state = ?, remote_id = ?, submitted_at = ?, status = ?"
        " WHERE key = ?",
        (SUBMITTED, remote_id, time.time(), status, key),
    )


def polled(db: sqlite3.Connection, key: str, status: str) -> None:
    """The provider's latest word on it."""
    db.execute("UPDATE provider_batches SET status = ? WHERE key = ?", (status, key))


def failed(db: sqlite3.Connection, batch_id: str, key: str, why: str) -> int:
    """The provider would not take it: its lines not yet answered go back to the normal
    path (pending, their send counted). How many went back."""
    db.execute(
        "UPDATE provider_batches SET state = ?, note = ?, ended_at = ? WHERE key = ?",
        (FAILED, why, time.time(), key),
    )
    return db.execute(
        "UPDATE batch_lines SET state = ?, submission = NULL"
        " WHERE batch_id = ? AND submission = ? AND state = ?",
        (PENDING, batch_id, key, SUBMITTED_LINE),
    ).rowcount


def collected(db: sqlite3.Connection, key: str, status: str) -> None:
    """Its results are kept."""
    db.execute(
        "UPDATE provider_batches SET state = ?, status = ?, ended_at = ? WHERE key = ?",
        (COLLECTED, status, time.time(), key),
    )


def back_to_normal(db: sqlite3.Connection, batch_id: str, seqs: Sequence[int]) -> None:
    """Lines whose provider's batch did not answer them, to be sent the normal way."""
    db.executemany(
        "UPDATE batch_lines SET state = ? WHERE batch_id = ? AND seq = ? AND state = ?",
        [(PENDING, batch_id, seq, SUBMITTED_LINE) for seq in seqs],
    )


def open_submissions(db: sqlite3.Connection, batch_id: str) -> list[Submission]:
    """The batch's submissions still to collect, oldest first."""
    rows = db.execute(
        "SELECT key, provider, url, state, remote_id, requests, created_at, submitted_at"
        " FROM provider_batches WHERE batch_id = ? AND state IN (?, ?) ORDER BY created_at",
        (batch_id, SUBMITTING, SUBMITTED),
    ).fetchall()
    return [Submission(*row) for row in rows]


def known_remote_ids(db: sqlite3.Connection, provider: str) -> list[str]:
    """Every provider batch id this daemon holds for `provider`: never taken for another."""
    rows = db.execute(
        "SELECT remote_id FROM provider_batches WHERE provider = ? AND remote_id IS NOT NULL",
        (provider,),
    )
    return [remote for (remote,) in rows]


def lines_of(db: sqlite3.Connection, batch_id: str, key: str) -> list[tuple[int, str, str]]:
    """The lines a submission holds that are not answered yet: (seq, url, body)."""
    rows = db.execute(
        "SELECT seq, url, body FROM batch_lines WHERE batch_id = ? AND submission = ?"
        " AND state = ? ORDER BY seq",
        (batch_id, key, SUBMITTED_LINE),
    ).fetchall()
    return [(seq, url, body) for seq, url, body in rows]

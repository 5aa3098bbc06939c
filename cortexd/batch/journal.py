"""The batch journal: SQLite statements, run on the ledger's writer thread or its readers.

A line is ``pending`` until it is sent, ``sent`` while in flight, then ``answered`` (the
daemon's answer, an error answer included) or ``invalid`` (it could not be sent); a line
sent through a provider's Batch API is ``submitted`` until its result is in (see
provider_journal.py). A line
found ``sent`` when a batch resumes was in flight at a kill: it may have been billed, so it
is sent again and its `sends` says so. The output file is written in input order from the
answered lines; `out_lines` and `out_bytes` say how much of it stands, so that what was
written after the last record is cut off before writing on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cortexd.batch.lines import BatchLine

PENDING, SENT, ANSWERED, INVALID = "pending", "sent", "answered", "invalid"
RUNNING, DONE, CANCELLED, STOPPED = "running", "done", "cancelled", "stopped"


@dataclass(frozen=True)
class Answer:
    """What the daemon answered one line: the HTTP status, the body and the call's id."""

    seq: int
    status: int
    body: Any
    call_id: str | None


def create(
    db: sqlite3.Connection,
    batch_id: str,
    source: str,
    output: str,
    lines: Sequence[BatchLine],
    options: dict[str, Any],
) -> None:
    """Journal a new batch and every line of it."""
    db.execute(
        "INSERT INTO batches (id, created_at, input, output, state, total, options)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (batch_id, time.time(), source, output, RUNNING, len(lines), json.dumps(options)),
    )
    db.executemany(
        "INSERT INTO batch_lines (batch_id, seq, line_no, custom_id, url, body, openai_form,"
        " state, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                batch_id,
                b.seq,
                b.line_no,
                b.custom_id,
                b.url,
                None if b.body is None else json.dumps(b.body, ensure_ascii=False),
                int(b.openai_form),
                INVALID if b.error else PENDING,
                json.dumps({"error": b.error}) if b.error else None,
            )
            for b in lines
        ],
    )


def to_send(db: sqlite3.Connection, batch_id: str) -> list[tuple[int, str, str]]:
    """The lines still to send (seq, url, body), in order: those never sent, and those
    in flight when the daemon stopped."""
    rows = db.execute(
        "SELECT seq, url, body FROM batch_lines WHERE batch_id = ? AND state IN (?, ?)"
        " ORDER BY seq",
        (batch_id, PENDING, SENT),
    ).fetchall()
    return [(seq, url, body) for seq, url, body in rows]


def mark_sent(db: sqlite3.Connection, items: list[tuple[str, int]]) -> list[None]:
    """Before a line is sent (a `Writer` batch of (batch_id, seq)): counted as a send."""
    db.executemany(
        "UPDATE batch_lines SET state = ?, sends = sends + 1 WHERE batch_id = ? AND seq = ?",
        [(SENT, b, s) for b, s in items],
    )
    return [None] * len(items)


def record(db: sqlite3.Connection, items: list[tuple[str, Answer]]) -> list[None]:
    """Keep answers (a `Writer` batch of (batch_id, answer)), with the cost, model and tokens
    of each one's call as the ledger has it: the call was committed before its answer."""
    for batch_id, answer in items:
        row = None
        if answer.call_id:
            row = db.execute(
                "SELECT model, input_tokens, output_tokens, cost_pico_usd FROM calls WHERE id = ?",
                (answer.call_id,),
            ).fetchone()
        model, tokens_in, tokens_out, cost = row or (None, 0, 0, None)
        db.execute(
            "UPDATE batch_lines SET state = ?, status = ?, answer = ?, call_id = ?, model = ?,"
            " input_tokens = ?, output_tokens = ?, cost_pico_usd = ?"
            " WHERE batch_id = ? AND seq = ?",
            (
                ANSWERED,
                answer.status,
                json.dumps(answer.body, ensure_ascii=False),
                answer.call_id,
                model,
                tokens_in,
                tokens_out,
                cost,
                batch_id,
                answer.seq,
            ),
        )
    return [None] * len(items)


def ready_to_write(db: sqlite3.Connection, batch_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The finished lines that come next in the output, in order, up to the first unfinished
    one (or `limit`). Rows are stepped through one at a time: the first unfinished one ends
    the read, so the answers kept beyond it are never read (the usual case mid-run)."""
    (start,) = db.execute("SELECT out_lines FROM batches WHERE id = ?", (batch_id,)).fetchone()
    cursor = db.cursor()
    cursor.row_factory = sqlite3.Row
    rows = cursor.execute(
        "SELECT * FROM batch_lines WHERE batch_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
        (batch_id, start, limit),
    )
    out = []
    try:
        for row in rows:
            if row["state"] not in (ANSWERED, INVALID):
                break
            out.append(dict(row))
    finally:
        cursor.close()
    return out


def written(db: sqlite3.Connection, batch_id: str, out_lines: int, out_bytes: int) -> None:
    """The output file now holds `out_lines` lines in `out_bytes` bytes."""
    db.execute(
        "UPDATE batches SET out_lines = ?, out_bytes = ? WHERE id = ?",
        (out_lines, out_bytes, batch_id),
    )


def finish(db: sqlite3.Connection, batch_id: str, state: str, note: str | None = None) -> None:
    """The batch is over: done, cancelled, or stopped (a budget's hard limit)."""
    db.execute(
        "UPDATE batches SET state = ?, note = ?, finished_at = ? WHERE id = ?",
        (state, note, time.time(), batch_id),
    )


def running(db: sqlite3.Connection) -> list[str]:
    """The batches a daemon left running: resumed at start-up."""
    rows = db.execute("SELECT id FROM batches WHERE state = ? ORDER BY created_at", (RUNNING,))
    return [batch_id for (batch_id,) in rows]


def summary(db: sqlite3.Connection, batch_id: str) -> dict[str, Any] | None:
    """A batch's state and its lines counted: done, failed, running, re-sent, tokens, spend."""
    head = db.execute(
        "SELECT id, created_at, input, output, state, total, options, out_lines, out_bytes,"
        " finished_at, note FROM batches WHERE id = ?",
        (batch_id,),
    ).fetchone()
    if head is None:
        return None
    keys = (
        "id",
        "created_at",
        "input",
        "output",
        "state",
        "total",
        "options",
        "written",
        "out_bytes",
        "finished_at",
        "note",
    )
    out = dict(zip(keys, head, strict=True))
    out["options"] = json.loads(out["options"])
    counts = db.execute(
        "SELECT"
        " sum(state = 'answered' AND status < 400), sum(state = 'answered' AND status >= 400),"
        " sum(state = 'invalid'), sum(state = 'sent'), sum(state = 'pending'),"
        " sum(state = 'submitted'),"
        " sum(sends > 1), sum(input_tokens), sum(output_tokens), sum(cost_pico_usd),"
        " sum(cost_pico_usd IS NULL AND state = 'answered' AND status < 400)"
        " FROM batch_lines WHERE batch_id = ?",
        (batch_id,),
    ).fetchone()
    ok, failed, invalid, sent, pending, submitted, resent, tin, tout, cost, unpriced = (
        c or 0 for c in counts
    )
    out.update(
        done=ok,
        failed=failed + invalid,
        invalid=invalid,
        running=sent,
        pending=pending,
        submitted=submitted,
        resent=resent,
        input_tokens=tin,
        output_tokens=tout,
        cost_usd=cost / 1e12,
        unpriced=unpriced,
    )
    rows = db.execute(
        "SELECT key, provider, state, remote_id, requests, status, note FROM provider_batches"
        " WHERE batch_id = ? ORDER BY created_at",
        (batch_id,),
    ).fetchall()
    names = ("key", "provider", "state", "provider_batch_id", "requests", "status", "note")
    out["provider_batches"] = [dict(zip(names, row, strict=True)) for row in rows]
    return out


def listing(db: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest batches, newest first, each as `summary` has it."""
    ids = [
        r
        for (r,) in db.execute("SELECT id FROM batches ORDER BY created_at DESC LIMIT ?", (limit,))
    ]
    return [s for batch_id in ids if (s := summary(db, batch_id)) is not None]


def cancel(db: sqlite3.Connection, batch_id: str) -> bool:
    """Mark a running batch cancelled; False when it is not running."""
    changed = db.execute(
        "UPDATE batches SET state = ?, finished_at = ?, note = ? WHERE id = ? AND state = ?",
        (CANCELLED, time.time(), "cancelled by the user", batch_id, RUNNING),
    ).rowcount
    return bool(changed)


def leave_unsent(db: sqlite3.Connection, batch_id: str, why: str) -> int:
    """At the end of a run cut short (a cancel, a budget), once no line is in flight: the
    lines never sent, and those waiting to be sent again, are reported as not answered."""
    return db.execute(
        "UPDATE batch_lines SET state = ?, answer = ? WHERE batch_id = ? AND state IN (?, ?)",
        (INVALID, json.dumps({"error": why, "code": "not_sent"}), batch_id, PENDING, SENT),
    ).rowcount

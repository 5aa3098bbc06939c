"""What the daemon remembers besides calls: budget alerts sent, scheduled jobs' last runs,
and routing proposals the user rejected. Functions of a connection, like `queries`; the
writing ones run on the ledger's writer thread (`Ledger.write`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from cortexd.ledger.months import Month


def month_spend(db: sqlite3.Connection, *, month: Month) -> dict[str, int]:
    """Pico-dollars spent per provider in `month`: every priced try of the calls that
    started in it (second opinions, judges, and streams cut short at their estimate, too).
    This is the settled spend: `SpendTracker`, `queries.costs` and the alerts count the same.
    """
    rows = db.execute(
        "SELECT a.provider, COALESCE(SUM(a.cost_pico_usd), 0)"
        " FROM attempts a JOIN calls c ON c.id = a.call_id"
        " WHERE c.started_at >= ? AND c.started_at < ? AND a.outcome != 'skipped'"
        " GROUP BY a.provider",
        (month.start, month.end),
    ).fetchall()
    return {provider: int(spent) for provider, spent in rows if spent}


@dataclass(frozen=True)
class Alert:
    """One budget threshold reached in one month."""

    month: str
    scope: str
    threshold: int
    limit: int  # pico-USD
    spent: int  # pico-USD when it was claimed


def claim_alert(db: sqlite3.Connection, alert: Alert, *, at: float) -> bool:
    """Record that `alert` is being sent; False when it was sent (or claimed) before."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO alerts (month, scope, threshold, limit_pico_usd,"
        " spent_pico_usd, claimed_at) VALUES (?, ?, ?, ?, ?, ?)",
        (alert.month, alert.scope, alert.threshold, alert.limit, alert.spent, at),
    )
    return cursor.rowcount == 1


def mark_delivered(db: sqlite3.Connection, alert: Alert, *, at: float) -> None:
    """The notifiers ran for `alert`."""
    db.execute(
        "UPDATE alerts SET delivered_at = ? WHERE month = ? AND scope = ? AND threshold = ?"
        " AND limit_pico_usd = ?",
        (at, alert.month, alert.scope, alert.threshold, alert.limit),
    )


def undelivered(db: sqlite3.Connection) -> list[Alert]:
    """Alerts claimed but never delivered (the daemon stopped in between)."""
    rows = db.execute(
        "SELECT month, scope, threshold, limit_pico_usd, spent_pico_usd FROM alerts"
        " WHERE delivered_at IS NULL ORDER BY claimed_at"
    ).fetchall()
    return [Alert(*row) for row in rows]


def alerts_of(db: sqlite3.Connection, *, month: str) -> list[dict[str, object]]:
    """The alerts sent in `month`, oldest first, JSON-ready."""
    rows = db.execute(
        "SELECT scope, threshold, limit_pico_usd, spent_pico_usd, claimed_at, delivered_at"
        " FROM alerts WHERE month = ? ORDER BY claimed_at",
        (month,),
    ).fetchall()
    keys = ("scope", "threshold", "limit_pico_usd", "spent_pico_usd", "at", "delivered_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def last_run(db: sqlite3.Connection, *, job: str) -> float | None:
    """When the scheduled `job` last finished, if ever."""
    row = db.execute("SELECT last_run FROM job_runs WHERE job = ?", (job,)).fetchone()
    return None if row is None else float(row[0])


def set_last_run(db: sqlite3.Connection, *, job: str, at: float) -> None:
    """Remember that `job` finished at `at`."""
    db.execute(
        "INSERT INTO job_runs (job, last_run) VALUES (?, ?)"
        " ON CONFLICT (job) DO UPDATE SET last_run = excluded.last_run",
        (job, at),
    )


def reject(db: sqlite3.Connection, *, key: str, calls: int, at: float) -> None:
    """Remember that the user rejected the proposal `key`, made on `calls` calls."""
    db.execute(
        "INSERT INTO rejected_proposals (key, rejected_at, calls) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET rejected_at = excluded.rejected_at,"
        " calls = excluded.calls",
        (key, at, calls),
    )


def rejected(db: sqlite3.Connection) -> Mapping[str, float]:
    """Rejected proposals' keys and when they were rejected."""
    return dict(db.execute("SELECT key, rejected_at FROM rejected_proposals"))

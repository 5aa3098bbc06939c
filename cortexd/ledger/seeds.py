"""What start-up reads from the ledger to seed the daemon's in-memory estimators: each
client's latest answer sizes (for budget reservations) and recent times to first token
(for hedge thresholds), so that neither starts from nothing after a restart.
"""

from __future__ import annotations

import sqlite3


def recent_outputs(
    db: sqlite3.Connection, *, per_client: int, clients: int
) -> list[tuple[str, list[int]]]:
    """The output tokens of each named client's latest `per_client` answered chat calls,
    oldest first, for the `clients` clients seen last, least recently seen first: what
    `RecentOutputs` is seeded with at start."""
    # The client names are walked through the (client, started_at) index, one seek each,
    # rather than grouping every row of the table: start-up reads this off a ledger of
    # years of calls, and a few clients only.
    seen = db.execute(
        "WITH RECURSIVE names(client) AS ("
        " SELECT MIN(client) FROM calls"
        " UNION ALL SELECT (SELECT MIN(client) FROM calls WHERE client > names.client)"
        " FROM names WHERE names.client IS NOT NULL)"
        " SELECT client, (SELECT MAX(started_at) FROM calls c WHERE c.client = names.client)"
        " AS last FROM names WHERE client IS NOT NULL ORDER BY last DESC LIMIT ?",
        (clients,),
    ).fetchall()
    found = []
    for client, _ in reversed(seen):
        latest = db.execute(
            "SELECT output_tokens FROM calls WHERE client = ? AND outcome = 'ok'"
            " AND kind = 'chat' ORDER BY started_at DESC LIMIT ?",
            (client, per_client),
        ).fetchall()
        if latest:
            found.append((client, [n for (n,) in reversed(latest)]))
    return found


def recent_ttfts(
    db: sqlite3.Connection, *, since: float, rows: int = 5000
) -> list[tuple[str, str, float]]:
    """(model, task, seconds to its first token) of the answers of the latest calls since
    `since`, oldest first: what the hedge thresholds are seeded with at start. Second
    opinions and judges are left out: theirs is not the answer's wait."""
    found = db.execute(
        "SELECT a.model, c.task, a.first_token_s FROM calls c"
        " JOIN attempts a ON a.call_id = c.id"
        " WHERE c.started_at >= ? AND a.outcome = 'ok' AND a.first_token_s IS NOT NULL"
        " AND a.second_opinion = 0 AND c.kind = 'chat'"
        " ORDER BY c.started_at DESC LIMIT ?",
        (since, rows),
    ).fetchall()
    return [(model, task, float(ttft)) for model, task, ttft in reversed(found)]

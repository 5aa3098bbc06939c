"""What the ledger knows of coding agents' sessions: where each was last answered (the pins
a restarted daemon starts from) and how a turn went after the session moved provider."""

from __future__ import annotations

import sqlite3
from typing import Any

#: The columns of a session's last answer, in `last_answers`' order.
PIN_FIELDS = (
    "client", "session", "agent_model", "provider", "model", "turn", "started_at",
    "cached_tokens", "first_token_s",
)  # fmt: skip


def last_answers(db: sqlite3.Connection, *, since: float, sessions: int) -> list[tuple[Any, ...]]:
    """Each session's (client, agent model) latest answered call since `since`, newest
    first, for at most `sessions` of them: what the session pins are seeded with at start.
    `cached_tokens` is the prompt the provider had cached as of that call (read + written;
    `input_tokens` counts every prompt token, cached ones included).
    A call cut short after content (`partial`) was answered by its provider all the same."""
    rows = db.execute(
        "SELECT client, session, agent_model, provider, model, turn, started_at,"
        " cache_read_tokens + cache_write_tokens, first_token_s FROM calls"
        " WHERE session IS NOT NULL AND started_at >= ? AND model IS NOT NULL"
        " AND outcome IN ('ok', 'partial') AND kind = 'chat'"
        " ORDER BY session, started_at DESC",
        (since,),
    ).fetchall()
    seen: set[tuple[Any, Any, Any]] = set()
    latest = []
    for row in rows:
        key = (row[0], row[1], row[2])
        if key not in seen:
            seen.add(key)
            latest.append(row)
    latest.sort(key=lambda row: row[6], reverse=True)
    return latest[:sessions]


def turn_after(
    db: sqlite3.Connection, *, session: str, turn: str, since: float, provider: str
) -> dict[str, Any]:
    """The calls of one turn of a session from `since` on that `provider` answered: how
    many, their time together, and how much of their prompts came from the cache."""
    calls, total_s, prompt, cached = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(total_s), 0),"
        " COALESCE(SUM(input_tokens), 0),"
        " COALESCE(SUM(cache_read_tokens), 0) FROM calls"
        " WHERE session = ? AND turn = ? AND started_at >= ? AND provider = ?",
        (session, turn, since, provider),
    ).fetchone()
    return {
        "calls": calls,
        "total_s": total_s,
        "prompt_tokens": prompt,
        "cache_read_tokens": cached,
    }

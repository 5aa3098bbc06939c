"""The ledger's calls one by one, as JSON: the latest ones, a call found by a prefix of its
id, and one call whole with its attempts, signals and ratings (``cortex why``).

Apart from `queries`' tables and sums: these read single rows, for the ``/v1/calls``
endpoints and the report's list of latest calls.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from cortexd.errors import CortexError
from cortexd.ledger.queries import ACHIEVED_SQL, ROLE_SQL, usd
from cortexd.ledger.sessions import turn_after

_CALL_FIELDS = (
    "c.rowid", "c.id", "c.started_at", "c.client", "c.project", "c.task", "c.decided_by",
    "c.model", "c.provider", "c.fallback", "c.outcome", "c.completed", "c.input_tokens",
    "c.output_tokens", "c.first_token_s", "c.total_s", "c.cost_pico_usd", "c.price_unknown",
    "c.kind", "c.stream", "c.session", "c.turn", "c.usage_estimated", ACHIEVED_SQL,
)  # fmt: skip
_CALL_COLUMNS = ", ".join(_CALL_FIELDS)


def _call_json(row: Iterable[Any]) -> dict[str, Any]:
    (rowid, cid, started, client, project, task, decided_by, model, provider, fallback,
     outcome, completed, tin, tout, ttft, total, cost, unknown, kind, stream, session, turn,
     estimated, achieved) = row  # fmt: skip
    return {
        "seq": rowid,
        "id": cid,
        "started_at": started,
        "client": client,
        "project": project,
        "session": session,
        "turn": turn,
        "kind": kind,
        "task": task,
        "decided_by": decided_by,
        "model": model,
        "provider": provider,
        "fallback": bool(fallback),
        "stream": bool(stream),
        "outcome": outcome,
        "completed": bool(completed),
        "achieved": None if achieved is None else bool(achieved),
        "input_tokens": tin,
        "output_tokens": tout,
        "usage_estimated": bool(estimated),
        "first_token_s": ttft,
        "total_s": total,
        "cost_usd": None if unknown else usd(cost),
        "price_unknown": bool(unknown),
    }


def recent_calls(
    db: sqlite3.Connection, *, limit: int = 20, after: int = 0
) -> list[dict[str, Any]]:
    """The latest calls, oldest first; with `after`, only those recorded after that `seq`."""
    rows = db.execute(
        f"SELECT * FROM (SELECT {_CALL_COLUMNS} FROM calls c WHERE c.rowid > ?"
        " ORDER BY c.rowid DESC LIMIT ?) ORDER BY 1",
        (after, limit),
    ).fetchall()
    return [_call_json(r) for r in rows]


class AmbiguousCallError(CortexError, LookupError):
    """A call id prefix that matches several calls."""


def find_call(db: sqlite3.Connection, call_id: str) -> str | None:
    """The full id of the call `call_id` names (a whole id, or a unique prefix of 6+)."""
    if db.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone():
        return call_id
    if len(call_id) < 6 or not call_id.isalnum():
        return None
    found = db.execute(
        "SELECT id FROM calls WHERE id >= ? AND id < ? LIMIT 2", (call_id, call_id + "\x7f")
    ).fetchall()
    if len(found) > 1:
        raise AmbiguousCallError(f"'{call_id}' names more than one call; give more of its id")
    return found[0][0] if found else None


def why(db: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    """One call whole: its plan and reasons, every attempt, its signals and ratings."""
    row = db.execute(
        f"SELECT {_CALL_COLUMNS}, c.override, c.routing_generation, c.chain, c.reasons,"
        " c.local_only, c.finish_reason, c.error_class, c.error, c.cache_read_tokens,"
        " c.cache_write_tokens, c.reasoning_tokens, c.json_requested, c.json_valid,"
        " c.second_opinion, c.verdict_agree, c.cache_write_1h_tokens, c.agent_model,"
        " c.losses, c.moved FROM calls c WHERE c.id = ?",
        (call_id,),
    ).fetchone()
    if row is None:
        return None
    out = _call_json(row[: len(_CALL_FIELDS)])
    (override, generation, chain, reasons, local_only, finish, error_class, error, cread,
     cwrite, reasoning, json_requested, json_valid, second, agree,
     cwrite_1h, agent_model, losses, moved) = row[len(_CALL_FIELDS):]  # fmt: skip
    out.update(
        override=override,
        routing_generation=generation,
        chain=json.loads(chain),
        reasons=json.loads(reasons),
        local_only=bool(local_only),
        finish_reason=finish,
        error=None if error_class is None else f"{error_class}: {error}",
        cache_read_tokens=cread,
        cache_write_tokens=cwrite,
        cache_write_1h_tokens=cwrite_1h,
        reasoning_tokens=reasoning,
        json_requested=bool(json_requested),
        json_valid=None if json_valid is None else bool(json_valid),
        second_opinion=second,
        verdict_agree=None if agree is None else bool(agree),
        agent_model=agent_model,
        losses=json.loads(losses) if losses else [],
        moved=json.loads(moved) if moved else None,
    )
    if out["moved"] is not None and out["session"] and out["turn"]:
        # The turn that began on the new provider, as far as it went there: its cache
        # is built again from nothing, and this says how far it got.
        out["moved"]["turn"] = turn_after(
            db, session=out["session"], turn=out["turn"], since=out["started_at"],
            provider=out["moved"]["to_provider"],
        )  # fmt: skip
    out["attempts"] = [
        {
            "number": number, "provider": provider, "model": model, "model_id": model_id,
            "outcome": outcome, "fallback": bool(fallback), "retry": bool(retry),
            "second_opinion": bool(second_opinion), "role": role,
            "usage_estimated": bool(estimated),
            "input_tokens": tin, "output_tokens": tout, "cache_read_tokens": cr,
            "cache_write_tokens": cw, "cache_write_1h_tokens": cw1h, "reasoning_tokens": rt,
            "started_s": started, "first_token_s": ttft, "total_s": total,
            "error": None if error_class is None else f"{error_class}: {err}",
            "skipped": skip, "cost_usd": usd(cost), "price_unknown": bool(unknown),
        }
        for (number, provider, model, model_id, outcome, fallback, retry, second_opinion,
             tin, tout, cr, cw, rt, started, ttft, total, error_class, err, skip, cost,
             unknown, cw1h, estimated, role) in db.execute(
            "SELECT number, provider, model, model_id, outcome, fallback, retry,"
            " second_opinion, input_tokens, output_tokens, cache_read_tokens,"
            " cache_write_tokens, reasoning_tokens, started_s, first_token_s, total_s,"
            " error_class, error, skip_reason, cost_pico_usd, price_unknown,"
            f" cache_write_1h_tokens, usage_estimated, {ROLE_SQL}"
            " FROM attempts a WHERE call_id = ? ORDER BY seq",
            (call_id,),
        )
    ]  # fmt: skip
    out["signals"] = [
        {"signal": s, "at": at, "detail": d}
        for s, at, d in db.execute(
            "SELECT signal, at, detail FROM signals WHERE call_id = ? ORDER BY at", (call_id,)
        )
    ]
    out["ratings"] = [
        {"rating": r, "note": n, "at": at}
        for r, n, at in db.execute(
            "SELECT rating, note, at FROM feedback WHERE call_id = ? ORDER BY at, id", (call_id,)
        )
    ]
    return out

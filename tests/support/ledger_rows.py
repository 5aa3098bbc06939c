"""Synthetic ledgers where the right routing proposal is known: calls written straight into
the daemon's SQLite file (while it is stopped) with the ledger's own writer."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from pathlib import Path

from cortexd.ledger import CallRecord, Feedback
from cortexd.ledger.store import CallWriter, connect, insert_feedback, secret
from cortexd.routing.dispatch import Attempt
from cortexd.routing.providers import Usage

PROVIDERS = {"sonnet": "anthropic", "opus": "anthropic", "haiku": "anthropic", "codex": "openai"}


def _attempt(
    call_id: str, task: str, model: str, number: int, cost: str, ok: bool, error: str = ""
) -> Attempt:
    return Attempt(
        request_id=call_id,
        number=number,
        task=task,
        provider=PROVIDERS[model],
        model=model,
        model_id=model,
        outcome="ok" if ok else "error",
        fallback=number > 1,
        usage=Usage(input_tokens=500, output_tokens=200) if ok else Usage(),
        total_s=1.0,
        first_token_s=0.3 if ok else None,
        error_class=None if ok else error,
        error=None if ok else "529 overloaded",
        cost_usd=Decimal(cost) if ok else Decimal(0),
    )


def answered(
    task: str,
    model: str,
    *,
    calls: int,
    achieved: int,
    cost: str,
    tried_first: str | None = None,
    failure: str = "OverloadedError",
    decided_by: str = "task-given",
    days_ago: float = 1.0,
) -> list[tuple[CallRecord, bool]]:
    """`calls` calls of `task` answered by `model` (after `tried_first` failed with
    `failure`, if given), of which `achieved` achieved their task (the rest rated bad)."""
    out = []
    start = time.time() - days_ago * 86_400
    for i in range(calls):
        call_id = uuid.uuid4().hex[:24]
        tries = []
        if tried_first is not None:
            tries.append(_attempt(call_id, task, tried_first, 1, "0", ok=False, error=failure))
        tries.append(_attempt(call_id, task, model, len(tries) + 1, cost, ok=True))
        record = CallRecord(
            id=call_id,
            started_at=start + i * 600,  # ten minutes apart: no "asked again" between them
            task=task,
            decided_by=decided_by,
            outcome="ok",
            attempts=tuple(tries),
            client=f"script-{call_id[:6]}",
            model=model,
            provider=PROVIDERS[model],
            fallback=tried_first is not None,
            override=f"use {model} for this" if decided_by == "override" else None,
            usage=Usage(input_tokens=500, output_tokens=200),
            total_s=1.0,
            first_token_s=0.3,
            prompt=f"{task} {call_id}",
        )
        out.append((record, i < achieved))
    return out


def write_calls(path: Path, rows: list[tuple[CallRecord, bool]]) -> None:
    """Write `rows` into the ledger at `path`; the unachieved ones get a bad rating."""
    db = connect(path, synchronous="NORMAL")
    try:
        db.execute("BEGIN")
        CallWriter(secret(db))(db, [record for record, _ in rows])
        for record, achieved in rows:
            if not achieved:
                insert_feedback(db, Feedback(record.id, "bad", None, record.started_at + 60))
        db.execute("COMMIT")
    finally:
        db.close()

"""The review's proposals on a real ledger: a rejected proposal comes back only when the
calls made since the rejection support it on their own."""

from __future__ import annotations

import time
from pathlib import Path

from support.ledger_rows import answered, write_calls

from cortexd.bookkeeping.review import proposals_of
from cortexd.context.paths import default_routing_text
from cortexd.ledger import CallRecord
from cortexd.ledger.bookkeeping import reject
from cortexd.ledger.store import connect
from cortexd.routing import parse_routing_text
from cortexd.services import build_routing

ROUTING = build_routing(parse_routing_text(default_routing_text()), None, 1)
SWAP = "swap:Code review:sonnet->codex"


def review_rows(days_ago: float, calls: int) -> list[tuple[CallRecord, bool]]:
    """Code review where codex (92%, cheaper) clearly beats sonnet (60%)."""
    rows = answered("Code review", "sonnet", calls=calls, achieved=calls * 3 // 5,
                    cost="0.011", days_ago=days_ago)  # fmt: skip
    rows += answered("Code review", "codex", calls=calls, achieved=calls * 23 // 25,
                     cost="0.004", days_ago=days_ago)  # fmt: skip
    return rows


def keys(path: Path) -> list[str]:
    db = connect(path, synchronous="NORMAL")
    try:
        found, _ = proposals_of(db, ROUTING, time.time())
    finally:
        db.close()
    return [p.key for p in found]


def rejected_on(path: Path, days_ago: float) -> None:
    db = connect(path, synchronous="NORMAL")
    try:
        with db:
            reject(db, key=SWAP, calls=100, at=time.time() - days_ago * 86_400)
    finally:
        db.close()


def test_a_rejected_proposal_needs_new_evidence_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write_calls(path, review_rows(days_ago=20, calls=50))
    assert keys(path) == [SWAP]
    rejected_on(path, days_ago=10)
    assert keys(path) == []
    # A few calls since, even at the same rates, are not enough on their own.
    write_calls(path, review_rows(days_ago=5, calls=10))
    assert keys(path) == []
    # Enough since the rejection: it is proposed again, saying so.
    write_calls(path, review_rows(days_ago=3, calls=50))
    db = connect(path, synchronous="NORMAL")
    try:
        (again,), _ = proposals_of(db, ROUTING, time.time())
    finally:
        db.close()
    assert again.key == SWAP
    assert "the 120 calls since support it on their own" in again.evidence[-1]

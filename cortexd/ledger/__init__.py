"""The ledger: every call and attempt in SQLite (WAL), written by one thread in groups.

`Ledger` records and reads; `queries` turns the rows into stats and costs; `report` renders
``model-performance.md``.
"""

from cortexd.ledger.attempts import AttemptLog
from cortexd.ledger.ledger import Ledger
from cortexd.ledger.migrations import MIGRATIONS, SchemaError, migrate
from cortexd.ledger.records import CallOutcome, CallRecord, Feedback, Rating, SessionMove
from cortexd.ledger.writer import LedgerUnavailableError

__all__ = [
    "MIGRATIONS",
    "AttemptLog",
    "CallOutcome",
    "CallRecord",
    "Feedback",
    "Ledger",
    "LedgerUnavailableError",
    "Rating",
    "SchemaError",
    "SessionMove",
    "migrate",
]

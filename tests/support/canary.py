"""The API keys the whole suite configures: canaries that must never be written anywhere.

Every database, report and log a test leaves is searched for them (`leaks`): daemons' homes
when a test removes them, in-process logs and the pytest temp folder at the end of the run.
"""

from __future__ import annotations

from pathlib import Path

ANTHROPIC_KEY = "sk-ant-test-canary-0123456789abcdefghij"
OPENAI_KEY = "sk-test-canary-0123456789abcdefghijklmnopqrstuv"
CANARIES = (ANTHROPIC_KEY, OPENAI_KEY)

#: What cortexd writes: the ledger (with its WAL), reports and logs.
_WRITTEN = ("*.sqlite3", "*.sqlite3-wal", "*.sqlite3-journal", "*.md", "*.log")


def leaks(folder: Path) -> list[str]:
    """Files under `folder` that cortexd wrote and that hold a canary key (or its tail)."""
    found = []
    needles = [key.encode() for key in CANARIES] + [key[-16:].encode() for key in CANARIES]
    for pattern in _WRITTEN:
        for path in folder.rglob(pattern):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(needle in data for needle in needles):
                found.append(str(path))
    return sorted(found)

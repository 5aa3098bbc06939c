"""The environment variables are documented once (issue 25):
`cortexd.context.environment.VARIABLES` is the list, docs/environment.md shows exactly it,
and every variable the shipped code reads by name is on it."""

from __future__ import annotations

import re
from pathlib import Path

from cortexd.context.environment import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("cortexd", "routing", "hardware", "service", "context")
#: A read of a variable by name: env.get("X"), os.environ["X"], os.getenv("X"), path("X").
READ = re.compile(
    r"""(?:\benv(?:iron)?\.get|\benviron\[|\bgetenv|\bpath)\(?\s*["']([A-Z][A-Z0-9_]{2,})["']"""
)


def test_the_page_shows_the_list_and_nothing_else() -> None:
    page = (ROOT / "docs" / "environment.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \| (.+) \|$", page, re.MULTILINE)
    documented = {name: (who.strip(), what.strip()) for name, who, what in rows}
    expected = "\n".join(f"| `{k}` | {who} | {what} |" for k, (who, what) in VARIABLES.items())
    assert documented == VARIABLES, f"docs/environment.md's table should read:\n{expected}"


def test_every_variable_the_code_reads_is_on_the_list() -> None:
    read: dict[str, str] = {}
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*.py"):
            for name in READ.findall(path.read_text(encoding="utf-8")):
                read.setdefault(name, str(path.relative_to(ROOT)))
    assert read, "the scan found no reads at all: its pattern is wrong"
    missing = {name: where for name, where in read.items() if name not in VARIABLES}
    assert missing == {}, f"read but not documented in context/environment.py: {missing}"
    assert {"OLLAMA_HOST", "CORTEX_HOME", "JOURNAL_STREAM"} <= read.keys()


def test_ollamas_address_is_read_in_one_place() -> None:
    # It was read in three (the registry, the adapter, the environment) and they could
    # disagree; the daemon now decides it once and passes it down.
    readers = sorted(
        str(path.relative_to(ROOT))
        for folder in SHIPPED
        for path in (ROOT / folder).rglob("*.py")
        if "OLLAMA_HOST" in READ.findall(path.read_text(encoding="utf-8"))
    )
    assert readers == ["context/environment.py"]

"""Every third-party module the shipped code imports comes from a distribution that
pyproject.toml declares (issue 25): one that arrives only through another's dependencies
(pydantic through the SDKs) can disappear with that one's next release."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The folders that ship (the package-dir mapping installs them under `cortexd`).
SHIPPED = ("cortexd", "routing", "hardware", "service", "context")


def _imported(path: Path) -> set[str]:
    """The top-level names `path` imports (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _declared() -> set[str]:
    """The distributions pyproject.toml's runtime dependencies name, normalised."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = (re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0] for dep in project["dependencies"])
    return {re.sub(r"[-_.]+", "-", n).casefold() for n in names}


def test_every_module_the_shipped_code_imports_is_declared() -> None:
    modules: dict[str, set[str]] = {}
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*.py"):
            for name in _imported(path):
                modules.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    third_party = {
        name: where
        for name, where in modules.items()
        if name not in sys.stdlib_module_names and name != "cortexd" and name != "__future__"
    }
    providers = packages_distributions()
    declared = _declared()
    missing = {}
    for name, where in sorted(third_party.items()):
        dists = {re.sub(r"[-_.]+", "-", d).casefold() for d in providers.get(name, [])}
        if not dists & declared:
            missing[name] = (sorted(dists) or ["no distribution installs it"], sorted(where)[:3])
    assert missing == {}, missing

"""The layers docs/architecture.md draws, held by the imports the code really makes.

Every import is read from the source (inside functions and under TYPE_CHECKING too), so a
lazy import cannot slip a dependency past the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: folder → the cortexd packages its code may import, besides its own.
LOWER_LAYERS = {
    "context": ("cortexd.errors",),
    "hardware": ("cortexd.errors",),
    "routing": ("cortexd.errors", "cortexd.hardware"),
    "service": ("cortexd.errors", "cortexd.context"),
}
OWN = {folder: f"cortexd.{folder}" for folder in LOWER_LAYERS}
#: The one import of the daemon's top layer from below it, and why it is allowed.
TOP_EXCEPTIONS = {
    # `cortex connect` guesses where the listener listens by the daemon's own rule.
    ("cortexd/cli/connect_cmd.py", "cortexd.daemon.listener"),
}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in `path` that names cortexd."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(n, m) for n, m in found if m == "cortexd" or m.startswith("cortexd.")]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("folder", sorted(LOWER_LAYERS))
def test_a_lower_layer_imports_nothing_of_the_daemon(folder: str) -> None:
    allowed = (OWN[folder], *LOWER_LAYERS[folder])
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, module in imports(path)
        if not any(within(module, package) for package in allowed)
    ]
    assert offenders == [], f"{folder}/ may import only {allowed}"


def test_the_daemon_package_is_the_top_that_nothing_else_imports() -> None:
    offenders = [
        f"{rel}:{line}: {module}"
        for path in sorted((ROOT / "cortexd").rglob("*.py"))
        if (rel := path.relative_to(ROOT).as_posix()).split("/")[1] != "daemon"
        for line, module in imports(path)
        if within(module, "cortexd.daemon") and (rel, module) not in TOP_EXCEPTIONS
    ]
    assert offenders == []


def test_the_daemon_uses_only_the_routing_packages_public_surfaces() -> None:
    # cortexd.routing, and its two subpackages with surfaces of their own (with __all__).
    public = ("cortexd.routing", "cortexd.routing.providers", "cortexd.routing.dispatch")
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / "cortexd").rglob("*.py"))
        if path.relative_to(ROOT / "cortexd").parts[0] not in LOWER_LAYERS  # the links
        for line, module in imports(path)
        if within(module, "cortexd.routing") and module not in public
    ]
    assert offenders == []


def test_the_rule_sees_an_offending_import(tmp_path: Path) -> None:
    # The scan itself: a lazy import inside a function is an import too.
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from cortexd.daemon.run import run\n", encoding="utf-8")
    assert imports(source) == [(2, "cortexd.daemon.run")]

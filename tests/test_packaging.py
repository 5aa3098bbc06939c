"""The wheel holds every package of the source tree (a folder missing from pyproject.toml's
package list installs fine in editable mode and is absent from the built wheel)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(config["setuptools"]["packages"])
    folders = config["setuptools"]["package-dir"]  # package name → folder at the root
    found = set()
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - found == set(), "these are listed but have no __init__.py"


def test_the_service_templates_ship_as_package_data() -> None:
    # The unit templates are read with importlib.resources; a pattern that misses one
    # installs fine in editable mode and breaks `cortex service install` from the wheel.
    from fnmatch import fnmatch

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    patterns = config["setuptools"]["package-data"]["cortexd.service"]
    templates = sorted(p.name for p in (ROOT / "service").iterdir() if p.suffix == ".in")
    assert templates == ["cortexd.service.in", "cortexd.socket.in"]
    for name in templates:
        assert any(fnmatch(name, pattern) for pattern in patterns), name


def test_the_task_examples_ship_as_package_data() -> None:
    # Read with importlib.resources; without the pattern the wheel has no examples.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert "task_examples.md" in config["setuptools"]["package-data"]["cortexd.routing.classifier"]
    assert (ROOT / "routing" / "classifier" / "task_examples.md").is_file()


def test_the_checkout_links_the_folders_where_the_package_has_them() -> None:
    # mypy, Pyright and go-to-definition find cortexd.routing in a plain checkout through
    # these links (docs/architecture.md); setuptools' package-dir is what installs.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = config["tool"]["setuptools"]["package-dir"]
    for package, folder in mapping.items():
        if package == "cortexd":
            continue
        link = ROOT.joinpath(*package.split("."))
        assert link.is_symlink(), f"{link.relative_to(ROOT)} should link to ../{folder}"
        assert link.resolve() == (ROOT / folder).resolve()

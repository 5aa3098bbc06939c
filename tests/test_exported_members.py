"""`cortexd.routing.__all__` names exactly what the package exports."""

from __future__ import annotations

import cortexd.routing as routing


def test_all_is_complete_and_importable() -> None:
    public = {
        name
        for name, value in vars(routing).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("cortexd.")
    }
    assert public <= set(routing.__all__)
    for name in routing.__all__:
        assert hasattr(routing, name), name


def test_the_daemon_layer_uses_only_the_public_surface() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "cortexd"
    offenders = [
        f"{path.relative_to(root.parent)}:{n}"
        for path in root.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith("from cortexd.routing.")
    ]
    assert offenders == []

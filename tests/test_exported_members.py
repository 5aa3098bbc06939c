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

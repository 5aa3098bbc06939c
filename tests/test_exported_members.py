"""`cortexd.routing.__all__` names exactly what the package exports."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import cortexd.hardware as hardware
import cortexd.ledger as ledger
import cortexd.routing as routing
import cortexd.routing.dispatch as dispatch
import cortexd.routing.providers as providers


@pytest.mark.parametrize("package", [routing, providers, dispatch, ledger, hardware])
def test_all_is_complete_and_importable(package: ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("cortexd.")
    }
    assert public <= set(package.__all__)
    for name in package.__all__:
        assert hasattr(package, name), name


def test_the_provider_surface_imports_no_sdk() -> None:
    # The CLI and the daemon's start-up import these names; the SDKs cost over a second.
    code = (
        "import sys, cortexd.routing.providers; "
        "print([m for m in ('anthropic', 'openai', 'ollama', 'llama_cpp') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

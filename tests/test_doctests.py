"""The small parsers' docstring examples run as tests."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from cortexd import models_json
from cortexd.api import tcp_guard
from cortexd.routing import catalog, cells, names, urls
from cortexd.routing.providers import (
    chat,
    errors,
    http_errors,
    llamacpp_supervisor,
    ollama_wire,
    openai,
    openai_wire,
)

PROVIDERS = [chat, errors, http_errors, llamacpp_supervisor, ollama_wire, openai, openai_wire]


@pytest.mark.parametrize(
    "module", [names, cells, catalog, urls, tcp_guard, models_json, *PROVIDERS]
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

"""The small parsers' docstring examples run as tests."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from cortexd import models_json
from cortexd.api import (
    agent_words,
    chat_request,
    error_shapes,
    hardware_routes,
    messages_encode,
    messages_request,
    relay,
    responses_encode,
    responses_request,
    tcp_guard,
)
from cortexd.cli import ask_cmd
from cortexd.ledger import queries, report, store
from cortexd.pipeline import call, family, hedging
from cortexd.routing import catalog, names, price_table, prices, urls
from cortexd.routing.classifier import model as task_model
from cortexd.routing.dispatch import hedge, liveness
from cortexd.routing.providers import (
    anthropic_batches,
    batch_api,
    chat,
    errors,
    forward,
    http_errors,
    llamacpp_process,
    llamacpp_supervisor,
    llamacpp_worker,
    ollama_wire,
    openai_batches,
    openai_responses_wire,
    openai_wire,
)
from cortexd.routing.routing_file import cells, sections
from cortexd.routing.routing_file import hedging as hedging_setting

PROVIDERS = [
    anthropic_batches,
    batch_api,
    chat,
    errors,
    forward,
    http_errors,
    llamacpp_process,
    llamacpp_supervisor,
    llamacpp_worker,
    ollama_wire,
    openai_batches,
    openai_responses_wire,
    openai_wire,
]


@pytest.mark.parametrize(
    "module",
    [
        names,
        cells,
        catalog,
        prices,
        urls,
        tcp_guard,
        models_json,
        agent_words,
        chat_request,
        hardware_routes,
        error_shapes,
        messages_encode,
        messages_request,
        relay,
        responses_encode,
        responses_request,
        family,
        hedging,
        hedge,
        liveness,
        hedging_setting,
        sections,
        price_table,
        task_model,
        call,
        queries,
        report,
        store,
        ask_cmd,
        *PROVIDERS,
    ],
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

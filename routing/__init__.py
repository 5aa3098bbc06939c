"""Routing: the routing file, model catalog, override detection, classifier and router.

The names below are the package's public surface; the modules behind them may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexd.routing.lazy_exports import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from cortexd.routing.budget import (
        BudgetExceededError,
        BudgetStatus,
        Gated,
        Spend,
        call_estimate,
        crossed,
        dollars,
        gate,
        past_alert,
        pico,
        statuses,
    )
    from cortexd.routing.catalog import Api, Catalog, ModelSpec, Provider, build_catalog
    from cortexd.routing.classifier.classify import Classification, TaskClassifier
    from cortexd.routing.classifier.example_vectors import Embedder, TaskSimilarity
    from cortexd.routing.classifier.examples import (
        TASK_EXAMPLES_FILE,
        TaskExamples,
        TaskExamplesError,
        load_task_examples,
        parse_task_examples,
        shipped_task_examples,
    )
    from cortexd.routing.classifier.model import TaskModel
    from cortexd.routing.classifier.similarity import prompt_text, task_scores
    from cortexd.routing.cold_skip import WARM_UP_BUDGET_S, ColdStart, skip_cold
    from cortexd.routing.embed_prefixes import InputType, wants_prefixes, with_prefixes
    from cortexd.routing.errors import (
        AmbiguousModelError,
        CortexError,
        NoRouteError,
        Problem,
        RoutingFileError,
        UnknownModelError,
        UnknownTaskError,
    )
    from cortexd.routing.json_answer import NotAJsonObject, json_object
    from cortexd.routing.local_needs import gguf_need, known_need, size_need
    from cortexd.routing.names import ollama_name
    from cortexd.routing.overrides.detector import Override, OverrideDetector
    from cortexd.routing.overrides.directives import MAX_TURNS
    from cortexd.routing.price_table import PriceTable
    from cortexd.routing.prices import Price
    from cortexd.routing.proposals import Evidence, ModelEvidence, Pending, Proposal, propose
    from cortexd.routing.request import Message, RouteRequest
    from cortexd.routing.router import Availability, RoutePlan, Router, nearest_task, plan_route
    from cortexd.routing.routing_file.edit import (
        CellChange,
        EditError,
        apply_changes,
        set_budget,
        unified_diff,
    )
    from cortexd.routing.routing_file.model_rows import RESERVED_NAMES
    from cortexd.routing.routing_file.parse import (
        catalog_for,
        load_routing_file,
        load_routing_file_with_digest,
        parse_routing_text,
    )
    from cortexd.routing.table import (
        DEFAULT_TASK,
        EMBEDDINGS_TASK,
        Budget,
        BudgetPolicy,
        Mode,
        RoutingTable,
        Toggle,
        WorkflowKind,
    )
    from cortexd.routing.urls import host_and_port, redact_url

#: Where each public name lives: imported on first use (PEP 562), so that a process
#: loads only the modules it uses (the daemon's start, the CLI's commands).
_EXPORTS = {
    "BudgetExceededError": "cortexd.routing.budget",
    "BudgetStatus": "cortexd.routing.budget",
    "Gated": "cortexd.routing.budget",
    "Spend": "cortexd.routing.budget",
    "call_estimate": "cortexd.routing.budget",
    "crossed": "cortexd.routing.budget",
    "dollars": "cortexd.routing.budget",
    "gate": "cortexd.routing.budget",
    "past_alert": "cortexd.routing.budget",
    "pico": "cortexd.routing.budget",
    "statuses": "cortexd.routing.budget",
    "Api": "cortexd.routing.catalog",
    "Catalog": "cortexd.routing.catalog",
    "ModelSpec": "cortexd.routing.catalog",
    "Provider": "cortexd.routing.catalog",
    "build_catalog": "cortexd.routing.catalog",
    "Classification": "cortexd.routing.classifier.classify",
    "TaskClassifier": "cortexd.routing.classifier.classify",
    "MAX_TURNS": "cortexd.routing.overrides.directives",
    "CellChange": "cortexd.routing.routing_file.edit",
    "EditError": "cortexd.routing.routing_file.edit",
    "apply_changes": "cortexd.routing.routing_file.edit",
    "set_budget": "cortexd.routing.routing_file.edit",
    "unified_diff": "cortexd.routing.routing_file.edit",
    "InputType": "cortexd.routing.embed_prefixes",
    "wants_prefixes": "cortexd.routing.embed_prefixes",
    "with_prefixes": "cortexd.routing.embed_prefixes",
    "AmbiguousModelError": "cortexd.routing.errors",
    "CortexError": "cortexd.routing.errors",
    "NoRouteError": "cortexd.routing.errors",
    "Problem": "cortexd.routing.errors",
    "RoutingFileError": "cortexd.routing.errors",
    "UnknownModelError": "cortexd.routing.errors",
    "UnknownTaskError": "cortexd.routing.errors",
    "NotAJsonObject": "cortexd.routing.json_answer",
    "json_object": "cortexd.routing.json_answer",
    "gguf_need": "cortexd.routing.local_needs",
    "known_need": "cortexd.routing.local_needs",
    "size_need": "cortexd.routing.local_needs",
    "ollama_name": "cortexd.routing.names",
    "Override": "cortexd.routing.overrides.detector",
    "OverrideDetector": "cortexd.routing.overrides.detector",
    "PriceTable": "cortexd.routing.price_table",
    "Price": "cortexd.routing.prices",
    "Evidence": "cortexd.routing.proposals",
    "ModelEvidence": "cortexd.routing.proposals",
    "Pending": "cortexd.routing.proposals",
    "Proposal": "cortexd.routing.proposals",
    "propose": "cortexd.routing.proposals",
    "Message": "cortexd.routing.request",
    "RouteRequest": "cortexd.routing.request",
    "Availability": "cortexd.routing.router",
    "RoutePlan": "cortexd.routing.router",
    "Router": "cortexd.routing.router",
    "plan_route": "cortexd.routing.router",
    "nearest_task": "cortexd.routing.router",
    "RESERVED_NAMES": "cortexd.routing.routing_file.model_rows",
    "catalog_for": "cortexd.routing.routing_file.parse",
    "load_routing_file": "cortexd.routing.routing_file.parse",
    "load_routing_file_with_digest": "cortexd.routing.routing_file.parse",
    "parse_routing_text": "cortexd.routing.routing_file.parse",
    "Embedder": "cortexd.routing.classifier.example_vectors",
    "TaskSimilarity": "cortexd.routing.classifier.example_vectors",
    "DEFAULT_TASK": "cortexd.routing.table",
    "EMBEDDINGS_TASK": "cortexd.routing.table",
    "Budget": "cortexd.routing.table",
    "BudgetPolicy": "cortexd.routing.table",
    "Mode": "cortexd.routing.table",
    "RoutingTable": "cortexd.routing.table",
    "Toggle": "cortexd.routing.table",
    "WorkflowKind": "cortexd.routing.table",
    "TASK_EXAMPLES_FILE": "cortexd.routing.classifier.examples",
    "TaskExamples": "cortexd.routing.classifier.examples",
    "TaskExamplesError": "cortexd.routing.classifier.examples",
    "load_task_examples": "cortexd.routing.classifier.examples",
    "parse_task_examples": "cortexd.routing.classifier.examples",
    "shipped_task_examples": "cortexd.routing.classifier.examples",
    "TaskModel": "cortexd.routing.classifier.model",
    "prompt_text": "cortexd.routing.classifier.similarity",
    "task_scores": "cortexd.routing.classifier.similarity",
    "host_and_port": "cortexd.routing.urls",
    "redact_url": "cortexd.routing.urls",
    "WARM_UP_BUDGET_S": "cortexd.routing.cold_skip",
    "ColdStart": "cortexd.routing.cold_skip",
    "skip_cold": "cortexd.routing.cold_skip",
}


__all__ = [
    "MAX_TURNS",
    "Price",
    "AmbiguousModelError",
    "DEFAULT_TASK",
    "EMBEDDINGS_TASK",
    "RESERVED_NAMES",
    "TASK_EXAMPLES_FILE",
    "WARM_UP_BUDGET_S",
    "Api",
    "Availability",
    "Budget",
    "BudgetExceededError",
    "ColdStart",
    "BudgetPolicy",
    "BudgetStatus",
    "Catalog",
    "PriceTable",
    "CellChange",
    "Classification",
    "CortexError",
    "EditError",
    "Embedder",
    "Evidence",
    "Gated",
    "InputType",
    "Message",
    "Mode",
    "ModelEvidence",
    "ModelSpec",
    "NotAJsonObject",
    "NoRouteError",
    "Override",
    "OverrideDetector",
    "Pending",
    "Problem",
    "Proposal",
    "Provider",
    "RoutePlan",
    "RouteRequest",
    "Router",
    "RoutingFileError",
    "RoutingTable",
    "Spend",
    "TaskClassifier",
    "TaskExamples",
    "TaskExamplesError",
    "TaskModel",
    "TaskSimilarity",
    "Toggle",
    "UnknownModelError",
    "UnknownTaskError",
    "WorkflowKind",
    "apply_changes",
    "build_catalog",
    "call_estimate",
    "catalog_for",
    "crossed",
    "dollars",
    "gate",
    "gguf_need",
    "json_object",
    "known_need",
    "nearest_task",
    "ollama_name",
    "load_routing_file",
    "load_routing_file_with_digest",
    "load_task_examples",
    "parse_routing_text",
    "parse_task_examples",
    "past_alert",
    "pico",
    "plan_route",
    "propose",
    "prompt_text",
    "host_and_port",
    "redact_url",
    "set_budget",
    "size_need",
    "shipped_task_examples",
    "skip_cold",
    "statuses",
    "task_scores",
    "unified_diff",
    "wants_prefixes",
    "with_prefixes",
]

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, __all__)

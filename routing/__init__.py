"""Routing: the routing file, model catalog, override detection, classifier and router.

The names below are the package's public surface; the modules behind them may change.
"""

from __future__ import annotations

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
from cortexd.routing.classifier import Classification, TaskClassifier
from cortexd.routing.directives import MAX_TURNS
from cortexd.routing.edit import CellChange, EditError, apply_changes, set_budget, unified_diff
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
from cortexd.routing.overrides import Override, OverrideDetector
from cortexd.routing.price_table import PriceTable
from cortexd.routing.prices import Price
from cortexd.routing.proposals import Evidence, ModelEvidence, Pending, Proposal, propose
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import Availability, RoutePlan, Router, plan_route
from cortexd.routing.routing_file import (
    RESERVED_NAMES,
    catalog_for,
    load_routing_file,
    load_routing_file_with_digest,
    parse_routing_text,
)
from cortexd.routing.similarity_index import Embedder, TaskSimilarity
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
from cortexd.routing.task_examples import (
    TASK_EXAMPLES_FILE,
    TaskExamples,
    TaskExamplesError,
    load_task_examples,
    parse_task_examples,
    shipped_task_examples,
)
from cortexd.routing.task_model import TaskModel
from cortexd.routing.task_similarity import prompt_text, task_scores
from cortexd.routing.urls import host_and_port, redact_url
from cortexd.routing.warmup import WARM_UP_BUDGET_S, ColdStart, skip_cold

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

"""Routing: the routing file, model catalog, override detection, classifier and router.

The names below are the package's public surface; the modules behind them may change.
"""

from __future__ import annotations

from cortexd.routing.catalog import Api, Catalog, ModelSpec, Provider, build_catalog
from cortexd.routing.classifier import Classification, TaskClassifier
from cortexd.routing.errors import (
    CortexError,
    NoRouteError,
    Problem,
    RoutingFileError,
    UnknownModelError,
    UnknownTaskError,
)
from cortexd.routing.overrides import Override, OverrideDetector
from cortexd.routing.request import Message, RouteRequest
from cortexd.routing.router import Availability, RoutePlan, Router, plan_route
from cortexd.routing.routing_file import catalog_for, load_routing_file, parse_routing_text
from cortexd.routing.table import DEFAULT_TASK, Mode, RoutingTable, Toggle, WorkflowKind
from cortexd.routing.task_model import TaskModel
from cortexd.routing.urls import redact_url

__all__ = [
    "DEFAULT_TASK",
    "Api",
    "Availability",
    "Catalog",
    "Classification",
    "CortexError",
    "Message",
    "Mode",
    "ModelSpec",
    "NoRouteError",
    "Override",
    "OverrideDetector",
    "Problem",
    "Provider",
    "RoutePlan",
    "RouteRequest",
    "Router",
    "RoutingFileError",
    "RoutingTable",
    "TaskClassifier",
    "TaskModel",
    "Toggle",
    "UnknownModelError",
    "UnknownTaskError",
    "WorkflowKind",
    "build_catalog",
    "catalog_for",
    "load_routing_file",
    "parse_routing_text",
    "plan_route",
    "redact_url",
]

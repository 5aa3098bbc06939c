"""A Responses request's tools as another provider's model is offered them, and its calls
written back as the client expects them.

Codex offers tools three ways: top-level `tools`; for its own default model, an
``additional_tools`` input item instead; and inside either, ``namespace`` tools grouping
function and custom tools (``multi_agent_v1``, ``functions`` with its freeform ``exec``).
Another provider's model gets them flat: each function as a function, each custom tool as a
function with one string argument (`custom_as_function`), a namespaced tool under its own
name (qualified ``namespace__name`` only where two namespaces share a name), its namespace's
description beside its own. A call comes back with its own name and namespace, as a
``custom_tool_call`` where the tool is custom. Hosted tools (``web_search``) cannot run
elsewhere: they are left out, and said to be (`lost`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cortexd.routing.providers import ToolSpec

#: What Anthropic accepts as a tool name; another name is written with ``_`` for the rest.
_NAME = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class OfferedTool:
    """One tool of the client's: its own name, its namespace, and whether it is custom."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass(frozen=True)
class ResponsesTools:
    """The request's tools for another provider's model (see the module's docstring)."""

    specs: tuple[ToolSpec, ...] = ()
    offered: Mapping[str, OfferedTool] = field(default_factory=dict)
    lost: tuple[str, ...] = ()

    def own(self, offered: str) -> OfferedTool:
        """The client's tool behind an offered name (a name we did not offer is its own)."""
        return self.offered.get(offered) or OfferedTool(offered)

    def is_custom(self, offered: str) -> bool:
        """Whether the call goes back as a ``custom_tool_call``."""
        return self.own(offered).custom

    def offered_name(self, name: str, namespace: str | None) -> str:
        """The name another model knows the client's tool by (history's calls use it)."""
        for offered, tool in self.offered.items():
            if tool.name == name and tool.namespace == namespace:
                return offered
        return name


#: A request that offers no tools.
NO_TOOLS = ResponsesTools()


def custom_as_function(tool: Mapping[str, Any], about: str = "") -> ToolSpec:
    """A custom (freeform) tool, such as Codex's ``apply_patch``, as a function tool with one
    string argument, for a model that has no custom tools; its answer goes back as the
    custom call (responses_encode.custom_call_item).

    >>> custom_as_function({"type": "custom", "name": "apply_patch"}).parameters["required"]
    ['input']
    """
    grammar = tool.get("format") or {}
    about = (about + "\n\n" if about else "") + str(tool.get("description", ""))
    if isinstance(grammar, dict) and grammar.get("definition"):
        about += f"\n\nThe input follows this {grammar.get('syntax', '')} grammar:\n"
        about += str(grammar["definition"])
    schema = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "the tool's whole input"}},
        "required": ["input"],
    }
    return ToolSpec(str(tool.get("name", "")), about.strip(), schema)


def _declared(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every tool the request declares: top-level, and in ``additional_tools`` items."""
    yield from _dicts(body.get("tools"))
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            yield from _dicts(item.get("tools"))


def _dicts(value: object) -> Iterator[Mapping[str, Any]]:
    """The objects of a list the client sent; anything else holds no tools (a malformed
    body is the upstream's to refuse, not a reason for us to fail)."""
    yield from (t for t in value if isinstance(t, dict)) if isinstance(value, list) else ()


def _flat(
    body: Mapping[str, Any],
) -> tuple[list[tuple[Mapping[str, Any], str | None, str]], list[str]]:
    """(tool, namespace, the namespace's description) for each callable tool, and what
    cannot be offered."""
    flat: list[tuple[Mapping[str, Any], str | None, str]] = []
    lost: list[str] = []
    for tool in _declared(body):
        kind = tool.get("type")
        if kind in ("function", "custom"):
            flat.append((tool, None, ""))
        elif kind == "namespace":
            about = str(tool.get("description") or "")
            for inner in _dicts(tool.get("tools")):
                if inner.get("type") in ("function", "custom"):
                    flat.append((inner, str(tool.get("name") or ""), about))
        else:
            lost.append(f"OpenAI's hosted tool {tool.get('name') or kind}")
    return flat, lost


def read_tools(body: Mapping[str, Any]) -> ResponsesTools:
    """The request's tools as another provider's model is offered them."""
    flat, lost = _flat(body)
    shared = Counter(str(t.get("name", "")) for t, _, _ in flat)
    specs: list[ToolSpec] = []
    offered: dict[str, OfferedTool] = {}
    for tool, namespace, about in flat:
        name = str(tool.get("name", ""))
        custom = tool.get("type") == "custom"
        qualified = f"{namespace}__{name}" if namespace and shared[name] > 1 else name
        qualified = _NAME.sub("_", qualified)[:128]
        if qualified in offered:
            continue  # declared twice (top level and in an item): offered once
        where = f"(in tool namespace {namespace}: {about})" if namespace and about else ""
        if custom:
            spec = custom_as_function(tool, where)
            lost.append(f"custom tool {name} offered as a function tool (its grammar in words)")
        else:
            description = " ".join(p for p in (where, str(tool.get("description", ""))) if p)
            parameters = tool.get("parameters") or {"type": "object", "properties": {}}
            spec = ToolSpec(name, description, parameters)
        specs.append(ToolSpec(qualified, spec.description, spec.parameters))
        offered[qualified] = OfferedTool(name, namespace, custom)
    return ResponsesTools(tuple(specs), offered, tuple(lost))

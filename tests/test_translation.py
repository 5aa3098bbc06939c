"""Translation between the three wire formats, pure, on the requests Claude Code and Codex
really send (tests/data/agent-clients, from ../shared/agent-clients): each client's body
read into our request, then written in another provider's wire; tools across two turns
with their ids, Codex's apply_patch there and back, thinking left out and kept, an image,
and reasoning effort across."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cortexd.api import messages_request, responses_request
from cortexd.api.messages_encode import tool_use_id
from cortexd.api.responses_tools import read_tools
from cortexd.routing.providers import ChatRequest, Forward, ImagePart
from cortexd.routing.providers.anthropic_wire import to_anthropic
from cortexd.routing.providers.openai_responses_wire import to_responses
from cortexd.routing.providers.openai_wire import to_chat

DATA = Path(__file__).parent / "data" / "agent-clients"


def _recorded(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / name).read_text())["body"]
    return body


def _from_messages(body: dict[str, Any]) -> ChatRequest:
    return messages_request.to_chat(body, Forward("messages", body))


def _from_responses(body: dict[str, Any]) -> ChatRequest:
    return responses_request.to_chat(body, Forward("responses", body))


def _as(model: str, request: ChatRequest) -> ChatRequest:
    return ChatRequest(**{**{f: getattr(request, f) for f in request.__slots__}, "model": model})  # type: ignore[attr-defined]


# --- Claude Code's Messages request, answered by OpenAI --------------------------------------


def test_claude_codes_tool_loop_reads_as_our_request() -> None:
    chat = _from_messages(_recorded("claude-code-2.1.197.messages-request.tool-result.json"))
    roles = [m.role for m in chat.messages]
    assert roles[0] == "system" and roles[-2:] == ["assistant", "tool"]
    use = chat.messages[-2].tool_calls[0]
    assert (use.id, use.name, json.loads(use.arguments)) == (
        "toolu_cross42_1", "Bash", {"command": "echo HELLO-1"}
    )  # fmt: skip
    assert chat.messages[-1].tool_call_id == use.id and chat.messages[-1].text == "HELLO-1"
    assert {t.name for t in chat.tools} >= {"Bash", "Edit", "Read", "Write"}
    # Adaptive thinking at effort high: a reasoning effort, not a budget.
    assert chat.reasoning is not None and chat.reasoning.effort == "high"


@pytest.mark.parametrize("target", ["gpt-4o", "gpt-5.3-codex"])
def test_claude_codes_tool_loop_in_openais_wires(target: str) -> None:
    chat = _as(
        target, _from_messages(_recorded("claude-code-2.1.197.messages-request.tool-result.json"))
    )
    if target == "gpt-4o":
        body = to_chat(chat)
        calls = [m for m in body["messages"] if m.get("tool_calls")]
        results = [m for m in body["messages"] if m["role"] == "tool"]
        assert calls[-1]["tool_calls"][0]["id"] == results[-1]["tool_call_id"] == "toolu_cross42_1"
        assert {t["function"]["name"] for t in body["tools"]} >= {"Bash", "Edit"}
        assert body["messages"][0]["role"] == "system"
    else:
        body, _ = to_responses(chat)
        kinds = [i.get("type", i.get("role")) for i in body["input"]]
        assert kinds[-2:] == ["function_call", "function_call_output"]
        assert body["input"][-2]["call_id"] == body["input"][-1]["call_id"] == "toolu_cross42_1"
        assert body["reasoning"]["effort"] == "high"  # Claude Code's effort, across


def test_another_providers_call_ids_come_back_as_it_made_them_on_the_next_turn() -> None:
    # Turn 1: gpt-4o made call_5, which Claude Code saw as a tool_use id of ours.
    seen = tool_use_id("call_5")
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "list the files"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": seen, "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": seen, "content": "a.txt"}]},
        ],
    }  # fmt: skip
    sent = to_chat(_as("gpt-4o", _from_messages(body)))
    assert sent["messages"][1]["tool_calls"][0]["id"] == "call_5"
    assert sent["messages"][2]["tool_call_id"] == "call_5"


def test_thinking_is_left_out_for_openai_and_kept_for_anthropic() -> None:
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "messages": [
            {"role": "user", "content": "tidy up"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "ls first", "signature": "c2ln"},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a"}]},
        ],
    }  # fmt: skip
    chat = _from_messages(body)
    openai_body = json.dumps(to_chat(_as("gpt-4o", chat)))
    assert "ls first" not in openai_body and "c2ln" not in openai_body
    anthropic_body, _ = to_anthropic(_as("claude-sonnet-4-5", chat))
    kept = anthropic_body["messages"][1]["content"][0]
    assert kept == {"type": "thinking", "thinking": "ls first", "signature": "c2ln"}
    assert anthropic_body["thinking"]["budget_tokens"] == 4000
    # A budget, read by OpenAI as an effort.
    assert to_chat(_as("o3", chat))["reasoning_effort"] in ("low", "medium", "high")


def test_an_image_crosses_as_an_image() -> None:
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}},
            {"type": "text", "text": "what is this?"}]}],
    }  # fmt: skip
    chat = _from_messages(body)
    assert chat.messages[0].images == (ImagePart("data:image/png;base64,iVBORw0KGgo="),)
    parts = to_chat(_as("gpt-4o", chat))["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}} in [
        {k: v for k, v in p.items() if k in ("type", "image_url")} for p in parts
    ] or any(p.get("type") == "image_url" for p in parts)
    codex = {"model": "gpt-5.3-codex", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"type": "input_text", "text": "what is this?"}]}]}  # fmt: skip
    anthropic_body, _ = to_anthropic(_as("sonnet", _from_responses(codex)))
    blocks = anthropic_body["messages"][0]["content"]
    assert {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="} in [
        b.get("source") for b in blocks
    ]


# --- Codex's Responses request, answered by Anthropic ----------------------------------------


def test_codexs_request_reads_as_our_request_and_says_what_it_loses() -> None:
    body = _recorded("codex-0.171.0.responses-request.json")
    chat = _from_responses(body)
    assert [m.role for m in chat.messages][-1] == "user"
    assert chat.messages[-1].text == "say hi"
    assert sum(m.role == "system" for m in chat.messages) >= 4  # developer messages
    # Its exec tool is a custom one (a grammar): offered as a function, and said so.
    lost = " ".join(responses_request.translation_losses(body))
    assert "custom tool exec offered as a function tool" in lost
    anthropic_body, _ = to_anthropic(_as("sonnet", chat))
    assert anthropic_body["messages"][-1]["content"][-1]["text"] == "say hi"
    assert anthropic_body["output_config"]["effort"] == "low"  # Codex's effort, across
    assert anthropic_body["thinking"]["type"] == "adaptive"


def test_apply_patch_goes_out_as_a_function_and_comes_back_as_codexs_custom_call() -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    tool = {"type": "custom", "name": "apply_patch", "description": "edit files",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}  # fmt: skip
    body = {
        "model": "sonnet", "tools": [tool],
        "input": [
            {"role": "user", "content": "add a.txt"},
            {"type": "custom_tool_call", "call_id": "call_9", "name": "apply_patch",
             "input": patch},
            {"type": "custom_tool_call_output", "call_id": "call_9", "output": "Done!"},
        ],
    }  # fmt: skip
    chat = _from_responses(body)
    offered = chat.tools[0]
    assert offered.name == "apply_patch" and offered.parameters["required"] == ["input"]
    assert "start: x" in offered.description  # the grammar, for a model without grammars
    anthropic_body, _ = to_anthropic(_as("sonnet", chat))
    use = anthropic_body["messages"][1]["content"][0]
    assert use["type"] == "tool_use" and use["input"] == {"input": patch}
    result = anthropic_body["messages"][2]["content"][0]
    assert result["tool_use_id"] == use["id"] and result["content"][0]["text"] == "Done!"
    assert read_tools(body).is_custom("apply_patch")


def test_codexs_own_model_offers_its_tools_in_an_item_and_they_cross_flat() -> None:
    # The recorded request for Codex's default model: no top-level tools, an additional_tools
    # item of namespaces (its freeform `exec` among them).
    body = _recorded("codex-0.171.0.responses-request.json")
    chat = _from_responses(body)
    names = {t.name for t in chat.tools}
    assert {"exec", "sleep", "spawn_agent"} <= names
    anthropic_body, _ = to_anthropic(_as("sonnet", chat))
    assert {t["name"] for t in anthropic_body["tools"]} == names
    lost = responses_request.translation_losses(body)
    assert any("custom tool exec" in line for line in lost)
    assert not any("namespace" in line for line in lost)  # offered flat, not lost


def test_a_namespaced_call_in_the_history_is_named_as_its_tool_was_offered() -> None:
    namespaces = [
        {"type": "namespace", "name": ns, "description": "", "tools": [
            {"type": "function", "name": "wait", "parameters": {"type": "object"}}]}
        for ns in ("functions", "clock")
    ]  # fmt: skip
    body = {
        "model": "sonnet", "tools": namespaces,
        "input": [
            {"role": "user", "content": "wait a second"},
            {"type": "function_call", "call_id": "c1", "namespace": "clock", "name": "wait",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "waited"},
        ],
    }  # fmt: skip
    anthropic_body, _ = to_anthropic(_as("sonnet", _from_responses(body)))
    assert [t["name"] for t in anthropic_body["tools"]] == ["functions__wait", "clock__wait"]
    assert anthropic_body["messages"][1]["content"][0]["name"] == "clock__wait"


def test_a_text_document_crosses_as_text_and_a_pdf_is_said_to_be_left_out() -> None:
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 100,
        "messages": [{"role": "user", "content": [
            {"type": "document", "title": "notes.txt",
             "source": {"type": "text", "media_type": "text/plain", "data": "buy milk"}},
            {"type": "document",
             "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
            {"type": "text", "text": "summarize these"}]}],
    }  # fmt: skip
    sent = json.dumps(to_chat(_as("gpt-4o", _from_messages(body))))
    assert "notes.txt:\\nbuy milk" in sent and "summarize these" in sent
    assert "JVBERi0x" not in sent  # a PDF's bytes are never pasted in as text
    lost = messages_request.translation_losses(body)
    assert lost == ("1 PDF document(s): documents go to Anthropic only",)


# --- Bad input and earlier turns -------------------------------------------------------------


def test_tools_that_are_not_lists_offer_nothing_and_never_fail() -> None:
    body = {
        "tools": [{"type": "namespace", "name": "ns", "tools": 5}, "not a tool"],
        "input": [{"type": "additional_tools", "tools": 7}],
    }
    assert read_tools(body).specs == ()


def _call(wire: str, body: dict[str, Any]) -> Any:
    from starlette.requests import Request

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    request = Request(scope)
    module = messages_request if wire == "messages" else responses_request
    return (module.messages_call if wire == "messages" else module.responses_call)(body, request)  # type: ignore[attr-defined]


@pytest.mark.parametrize("wire", ["messages", "responses"])
def test_an_earlier_turns_override_is_never_edited_in_the_latest_turn(wire: str) -> None:
    turns = ["use gpt-4o: explain monads", "ok", "use gpt-4o: now functors"]
    if wire == "messages":
        roles = ("user", "assistant", "user")
        messages = [{"role": r, "content": t} for r, t in zip(roles, turns, strict=True)]
        body: dict[str, Any] = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 10,
            "messages": messages,
        }
    else:
        items = [{"type": "message", "role": r, "content": [{"type": "input_text", "text": t}]}
                 for r, t in zip(("user", "assistant", "user"), turns, strict=True)]  # fmt: skip
        body = {"model": "gpt-5.1-codex", "input": items}
    call = _call(wire, body)
    forward = Forward(wire, body)
    # Only the common part differs ("use gpt-4o: "): the latest turn holds it too.
    changed = call.reword(forward, "use gpt-4o: explain monads", "explain monads", True)
    sent = json.dumps(changed.body)
    assert "use gpt-4o: now functors" in sent
    assert "use gpt-4o: explain monads" not in sent

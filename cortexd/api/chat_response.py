"""Our answers in OpenAI's Chat Completions shape: the JSON object, SSE chunks, the cortex block."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cortexd.routing import RoutePlan
from cortexd.routing.dispatch import Attempt, Dispatch, SecondOpinion, call_cost
from cortexd.routing.providers import (
    ChatResponse,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage object (prompt tokens include cached ones, as OpenAI counts them)."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {"model": attempt.model, "provider": attempt.provider}
    out["outcome"] = attempt.outcome
    if attempt.error_class:
        out["error"] = f"{attempt.error_class}: {attempt.error}"
    if attempt.skip_reason:
        out["skipped"] = attempt.skip_reason
    if attempt.outcome != "skipped":
        out["seconds"] = round(attempt.total_s, 3)
    return out


def fallback_reason(dispatch: Dispatch) -> str | None:
    """Why a fallback answered: what became of each model ahead of it (skipped with why, or
    its error); None when the chain's first model answered."""
    if not dispatch.fallback:
        return None
    ahead = [
        f"{a.model}: {a.skip_reason}"
        if a.outcome == "skipped"
        else f"{a.model}: {a.error_class}: {a.error}"
        for a in dispatch.attempts
        if not a.second_opinion and a.model != dispatch.model
    ]
    return "; ".join(ahead) or None


def cortex_block(
    call_id: str,
    plan: RoutePlan,
    dispatch: Dispatch,
    warnings: tuple[str, ...] = (),
    second: SecondOpinion | None = None,
    attempts: Sequence[Attempt] | None = None,
) -> dict[str, Any]:
    """What cortexd adds to an answer: who answered, why (a fallback's reason too), what it
    cost, what was tried. The cost is that of `attempts`, the call's every try (a second
    opinion's and its judge's too, as the ledger holds them), else of the answer's tries."""
    tried = [a for a in dispatch.attempts if not a.second_opinion]
    cost = call_cost(dispatch.attempts if attempts is None else attempts)
    block: dict[str, Any] = {
        "id": call_id,
        "task": plan.task,
        "decided_by": plan.decided_by,
        "model": dispatch.model,
        "provider": dispatch.provider,
        "fallback": dispatch.fallback,
        "fallback_reason": fallback_reason(dispatch),
        "attempts": [_attempt_json(a) for a in tried],
        "cost_usd": None if cost is None else str(cost),
        "price_unknown": cost is None,
    }
    if plan.skipped:  # passed over before any try: budgets, a cold local model
        block["skipped"] = [{"model": m, "reason": r} for m, r in plan.skipped]
    # The plan's own (a directive to a model the routing file lacks) come first.
    if plan.warnings or warnings:
        block["warnings"] = [*plan.warnings, *warnings]
    if second is not None:
        block["second_opinion"] = second_opinion_json(second)
    return block


def second_opinion_json(second: SecondOpinion) -> dict[str, Any]:
    """The second opinion: the other model's answer and the judge's verdict, or why not."""
    out: dict[str, Any] = {"status": second.status, "model": second.second_model}
    if second.second is not None:
        out["answer"] = second.second.text
    if second.verdict is not None:
        out["verdict"] = {
            "agree": second.verdict.agree,
            "differences": list(second.verdict.differences),
            "summary": second.verdict.summary,
            "judge": second.verdict.judge,
        }
    if second.detail:
        out["detail"] = second.detail
    return out


def completion_json(
    call_id: str, response: ChatResponse, cortex: Mapping[str, Any]
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": response.text or None}
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    elif message["content"] is None:
        message["content"] = ""
    thoughts = "".join(r.text for r in response.reasoning if not r.redacted)
    if thoughts:
        message["reasoning_content"] = thoughts
    return {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model,
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason}],
        "usage": usage_json(response.usage),
        "cortex": dict(cortex),
    }


class ChunkWriter:
    """Renders a stream as ``chat.completion.chunk`` SSE events."""

    def __init__(self, call_id: str) -> None:
        self.id = f"chatcmpl-{call_id}"
        self.created = int(time.time())
        self.model = ""
        self._started = False

    def _event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    def delta(self, event: TextDelta | ReasoningDelta | ToolCallDelta) -> bytes:
        """One content, reasoning or tool-call piece (the first carries the role)."""
        delta: dict[str, Any] = {}
        if not self._started:
            delta["role"] = "assistant"
            self._started = True
        if isinstance(event, TextDelta):
            delta["content"] = event.text
        elif isinstance(event, ReasoningDelta):
            delta["reasoning_content"] = event.text
        else:
            call: dict[str, Any] = {"index": event.index}
            if event.id:
                call["id"], call["type"] = event.id, "function"
            function: dict[str, Any] = {"arguments": event.arguments}
            if event.name:
                function["name"] = event.name
            call["function"] = function
            delta["tool_calls"] = [call]
        return self._event([{"index": 0, "delta": delta, "finish_reason": None}])

    def finish(
        self, response: ChatResponse, cortex: Mapping[str, Any], include_usage: bool
    ) -> bytes:
        """The finish chunk, the usage chunk (when asked) with the cortex block, and [DONE]."""
        self.model = response.model or self.model
        # The cortex block rides on the finish chunk: clients that did not ask for the
        # usage chunk may not expect a chunk without choices.
        finish = [{"index": 0, "delta": {}, "finish_reason": response.finish_reason}]
        out = self._event(finish, cortex=dict(cortex))
        if include_usage:
            out += self._event([], usage=usage_json(response.usage))
        return out + b"data: [DONE]\n\n"

    def error(self, message: str, code: str) -> bytes:
        """An error event that ends a broken stream; no [DONE] follows it."""
        body = {"error": {"message": message, "type": "api_error", "param": None, "code": code}}
        return b"data: " + json.dumps(body).encode() + b"\n\n"


class RelayedChunks:
    """A passed-through stream's chunks, relayed as OpenAI sent them, except two held back
    to the end: the finish chunk, which takes the cortex block once the call is on record,
    and the usage chunk, which only a client that asked for it gets (the ledger always asks).
    """

    def __init__(self, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._finishes: list[dict[str, Any]] = []  # one per choice (n > 1)
        self._usage = b""

    def relay(self, frame: bytes) -> bytes:
        """What of `frame` to send now."""
        _, _, data = frame.partition(b"data:")
        try:
            chunk = json.loads(data)
        except ValueError:
            return frame
        if not isinstance(chunk, dict):
            return frame
        choices = chunk.get("choices")
        if choices == [] and chunk.get("usage"):
            self._usage = frame
            return b""
        if choices and any(c.get("finish_reason") for c in choices):
            self._finishes.append(chunk)
            return b""
        return frame

    def finish(self, cortex: Mapping[str, Any], tail: bytes) -> bytes:
        """The held chunks, the cortex block on the finish chunk, and the stream's end."""
        out = b""
        for number, chunk in enumerate(self._finishes, 1):
            last = number == len(self._finishes)
            finish = {**chunk, "cortex": dict(cortex)} if last else chunk
            out += b"data: " + json.dumps(finish).encode() + b"\n\n"
        if self._include_usage:
            out += self._usage
        return out + tail

"""Whether a model can serve a request at all: tools, images, JSON, a large enough window."""

from __future__ import annotations

from cortexd.routing.providers.chat import ChatRequest
from cortexd.routing.providers.contract import Capabilities

#: Characters per token for English prose and code: a fair middle estimate, used to decide
#: whether a prompt fits a window before any call.
CHARS_PER_TOKEN = 3.5
#: Tokens assumed for an answer when the request sets no max_tokens.
DEFAULT_ANSWER_TOKENS = 1024


def estimate_tokens(request: ChatRequest) -> int:
    """The prompt's tokens, estimated locally (no tokenizer call, no network).

    Images count a flat 1,000 tokens each, a typical cost on the cloud APIs.
    """
    images = sum(len(m.images) for m in request.messages)
    return int(request.prompt_chars() / CHARS_PER_TOKEN) + 4 * len(request.messages) + 1000 * images


def missing(request: ChatRequest, caps: Capabilities) -> str | None:
    """Why a model with `caps` cannot serve `request`, or None when it can."""
    if not caps.chat:
        return "it does not chat (an embedding model)"
    if request.tools and not caps.tools:
        return "the request has tools and this model takes none"
    if request.has_images and not caps.images:
        return "the request has images and this model takes none"
    fmt = request.response_format
    if fmt is not None and fmt.kind == "json_schema" and not (caps.json_schema or caps.json_mode):
        return "the request asks for JSON and this model has no JSON mode"
    if fmt is not None and fmt.kind == "json_object" and not caps.json_mode:
        return "the request asks for JSON and this model has no JSON mode"
    if caps.context_window and not _window_widened(request):
        need = estimate_tokens(request) + (request.max_tokens or DEFAULT_ANSWER_TOKENS)
        if need > caps.context_window:
            return (
                f"the prompt needs about {need} tokens with its answer; "
                f"the window is {caps.context_window}"
            )
    return None


def _window_widened(request: ChatRequest) -> bool:
    """Whether the client's own request asks for a wider window than the model's default
    (Anthropic's ``context-1m`` beta, which Claude Code sends for its default model): the
    provider, not an estimate here, then says when a prompt is too long."""
    forward = request.forward
    return forward is not None and "context-1m" in forward.headers.get("anthropic-beta", "")

"""Provider adapters: one contract over Anthropic, OpenAI, Ollama and llama.cpp.

The names below are light: importing them loads no SDK. The adapters live in
`cortexd.routing.providers.anthropic`, `.openai`, `.ollama` and `.llamacpp`, each importing
its SDK, so the daemon builds them off the request path and the CLI never pays for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortexd.routing.providers.batch_api import (
        BatchApi,
        BatchLimits,
        BatchRequest,
        BatchResult,
        OffersBatches,
        RemoteBatch,
        split,
    )
    from cortexd.routing.providers.chat import (
        Alive,
        ChatMessage,
        ChatRequest,
        ChatResponse,
        EmbedRequest,
        EmbedResponse,
        FinishReason,
        Forward,
        ImagePart,
        RawEvent,
        Reasoning,
        ReasoningConfig,
        ReasoningDelta,
        ResponseFormat,
        StreamEnd,
        StreamEvent,
        TextDelta,
        TextPart,
        Timing,
        ToolCall,
        ToolCallDelta,
        ToolChoice,
        ToolSpec,
        Usage,
        Wire,
    )
    from cortexd.routing.providers.contract import (
        Capabilities,
        ChatProvider,
        ProviderStatus,
        Warming,
        Warmth,
    )
    from cortexd.routing.providers.errors import (
        AuthenticationError,
        BatchItemError,
        ContextLengthError,
        InvalidRequestError,
        ModelLoadError,
        ModelNotFoundError,
        ModelUnavailableError,
        NotConfiguredError,
        OverloadedError,
        ProviderConnectionError,
        ProviderError,
        ProviderTimeoutError,
        QuotaExceededError,
        RateLimitError,
        ServerError,
        StreamInterruptedError,
        TransientError,
        UnsupportedRequestError,
        redact,
    )
    from cortexd.routing.providers.registry import ProviderRegistry
    from cortexd.routing.providers.settings import Endpoint

#: Where each public name lives: imported on first use (PEP 562), so that a process
#: loads only the modules it uses (the daemon's start, the CLI's commands).
_EXPORTS = {
    "BatchApi": "cortexd.routing.providers.batch_api",
    "BatchLimits": "cortexd.routing.providers.batch_api",
    "BatchRequest": "cortexd.routing.providers.batch_api",
    "BatchResult": "cortexd.routing.providers.batch_api",
    "OffersBatches": "cortexd.routing.providers.batch_api",
    "RemoteBatch": "cortexd.routing.providers.batch_api",
    "split": "cortexd.routing.providers.batch_api",
    "Alive": "cortexd.routing.providers.chat",
    "ChatMessage": "cortexd.routing.providers.chat",
    "ChatRequest": "cortexd.routing.providers.chat",
    "ChatResponse": "cortexd.routing.providers.chat",
    "EmbedRequest": "cortexd.routing.providers.chat",
    "EmbedResponse": "cortexd.routing.providers.chat",
    "FinishReason": "cortexd.routing.providers.chat",
    "Forward": "cortexd.routing.providers.chat",
    "ImagePart": "cortexd.routing.providers.chat",
    "RawEvent": "cortexd.routing.providers.chat",
    "Reasoning": "cortexd.routing.providers.chat",
    "ReasoningConfig": "cortexd.routing.providers.chat",
    "ReasoningDelta": "cortexd.routing.providers.chat",
    "ResponseFormat": "cortexd.routing.providers.chat",
    "StreamEnd": "cortexd.routing.providers.chat",
    "StreamEvent": "cortexd.routing.providers.chat",
    "TextDelta": "cortexd.routing.providers.chat",
    "TextPart": "cortexd.routing.providers.chat",
    "Timing": "cortexd.routing.providers.chat",
    "ToolCall": "cortexd.routing.providers.chat",
    "ToolCallDelta": "cortexd.routing.providers.chat",
    "ToolChoice": "cortexd.routing.providers.chat",
    "ToolSpec": "cortexd.routing.providers.chat",
    "Usage": "cortexd.routing.providers.chat",
    "Wire": "cortexd.routing.providers.chat",
    "Capabilities": "cortexd.routing.providers.contract",
    "ChatProvider": "cortexd.routing.providers.contract",
    "ProviderStatus": "cortexd.routing.providers.contract",
    "Warming": "cortexd.routing.providers.contract",
    "Warmth": "cortexd.routing.providers.contract",
    "AuthenticationError": "cortexd.routing.providers.errors",
    "BatchItemError": "cortexd.routing.providers.errors",
    "ContextLengthError": "cortexd.routing.providers.errors",
    "InvalidRequestError": "cortexd.routing.providers.errors",
    "ModelLoadError": "cortexd.routing.providers.errors",
    "ModelNotFoundError": "cortexd.routing.providers.errors",
    "ModelUnavailableError": "cortexd.routing.providers.errors",
    "NotConfiguredError": "cortexd.routing.providers.errors",
    "OverloadedError": "cortexd.routing.providers.errors",
    "ProviderConnectionError": "cortexd.routing.providers.errors",
    "ProviderError": "cortexd.routing.providers.errors",
    "ProviderTimeoutError": "cortexd.routing.providers.errors",
    "QuotaExceededError": "cortexd.routing.providers.errors",
    "RateLimitError": "cortexd.routing.providers.errors",
    "ServerError": "cortexd.routing.providers.errors",
    "StreamInterruptedError": "cortexd.routing.providers.errors",
    "TransientError": "cortexd.routing.providers.errors",
    "UnsupportedRequestError": "cortexd.routing.providers.errors",
    "redact": "cortexd.routing.providers.errors",
    "ProviderRegistry": "cortexd.routing.providers.registry",
    "Endpoint": "cortexd.routing.providers.settings",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cortexd.routing.providers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found at once from now on
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "FinishReason",
    "Alive",
    "Forward",
    "Wire",
    "AuthenticationError",
    "BatchApi",
    "BatchItemError",
    "BatchLimits",
    "BatchRequest",
    "BatchResult",
    "Capabilities",
    "ChatMessage",
    "ChatProvider",
    "ChatRequest",
    "ChatResponse",
    "ContextLengthError",
    "EmbedRequest",
    "EmbedResponse",
    "Endpoint",
    "ImagePart",
    "InvalidRequestError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelUnavailableError",
    "NotConfiguredError",
    "OffersBatches",
    "OverloadedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRegistry",
    "ProviderStatus",
    "ProviderTimeoutError",
    "QuotaExceededError",
    "RateLimitError",
    "Reasoning",
    "ReasoningConfig",
    "ReasoningDelta",
    "ResponseFormat",
    "ServerError",
    "RawEvent",
    "RemoteBatch",
    "StreamEnd",
    "StreamEvent",
    "StreamInterruptedError",
    "TextDelta",
    "TextPart",
    "Timing",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSpec",
    "TransientError",
    "UnsupportedRequestError",
    "Usage",
    "Warming",
    "Warmth",
    "redact",
    "split",
]

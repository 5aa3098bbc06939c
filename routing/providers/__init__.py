"""Provider adapters: one contract over Anthropic, OpenAI, Ollama and llama.cpp.

The names below are light: importing them loads no SDK. The adapters live in
`cortexd.routing.providers.anthropic`, `.openai`, `.ollama` and `.llamacpp`, each importing
its SDK, so the daemon builds them off the request path and the CLI never pays for them.
"""

from __future__ import annotations

from cortexd.routing.providers.chat import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    EmbedResponse,
    ImagePart,
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
)
from cortexd.routing.providers.contract import Capabilities, ChatProvider, ProviderStatus
from cortexd.routing.providers.errors import (
    AuthenticationError,
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
)
from cortexd.routing.providers.registry import ProviderRegistry
from cortexd.routing.providers.settings import Endpoint

__all__ = [
    "AuthenticationError",
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
]

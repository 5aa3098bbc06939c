"""Our own request, reply and stream types: what every provider adapter takes and gives back.

They cover what real clients send through an OpenAI-compatible API — system and multi-turn
messages, sampling parameters, tools and tool results, images, JSON output, reasoning — and
what the Anthropic side adds (extended thinking with signatures, prompt-cache breakpoints).
Each adapter's ``*_wire`` module translates them to and from its provider's JSON, as pure
functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Effort = Literal["minimal", "low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class TextPart:
    """Text in a message. `cache` marks an Anthropic prompt-cache breakpoint after it."""

    text: str
    cache: bool = False


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image: an http(s) URL or a ``data:<media type>;base64,…`` URL."""

    url: str
    detail: str | None = None  # OpenAI's "low" | "high" | "auto"

    @property
    def inline(self) -> tuple[str, str] | None:
        """(media type, base64 data) for a data URL; None for a web URL.

        >>> ImagePart("data:image/png;base64,iVBORw0K").inline
        ('image/png', 'iVBORw0K')
        >>> ImagePart("https://example.com/cat.png").inline is None
        True
        """
        if not self.url.startswith("data:"):
            return None
        header, _, data = self.url[5:].partition(",")
        media_type = header.split(";", 1)[0] or "application/octet-stream"
        return media_type, data


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for; `arguments` is JSON text, as the model wrote it."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as an object; models sometimes write invalid JSON: then ``{}``."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A model's visible reasoning; Anthropic's `signature` must be sent back unchanged."""

    text: str
    signature: str | None = None
    redacted: bool = False  # Anthropic's redacted_thinking: `text` holds the opaque data


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message. A ``tool`` message answers the call `tool_call_id`."""

    role: Role
    content: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    reasoning: tuple[Reasoning, ...] = ()
    name: str | None = None

    @classmethod
    def of(cls, role: Role, text: str) -> ChatMessage:
        """A message holding only text."""
        return cls(role, (TextPart(text),))

    @property
    def text(self) -> str:
        """The message's text parts joined; images are left out."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.content if isinstance(p, ImagePart))


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call; `parameters` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """``auto``, ``none``, ``required`` (any tool), or ``tool`` with the tool's name."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """JSON output: any JSON object, or one matching `schema`."""

    kind: Literal["text", "json_object", "json_schema"] = "text"
    schema: Mapping[str, Any] | None = None
    name: str = "response"
    strict: bool | None = None

    @property
    def wants_json(self) -> bool:
        return self.kind != "text"


@dataclass(frozen=True, slots=True)
class ReasoningConfig:
    """How hard the model should think: an effort (OpenAI) and/or a token budget (Anthropic).

    Either one is translated to the other where a provider only takes one.
    """

    effort: Effort | None = None
    budget_tokens: int | None = None
    summary: bool = True  # ask for a readable summary where the provider offers one


Wire = Literal["chat", "messages", "responses"]


@dataclass(frozen=True, slots=True)
class Forward:
    """The client's own request, for a provider that speaks its wire format.

    `body` is the client's JSON object as it came (the override phrase already removed);
    the provider sends it with only ``model`` changed, so fields nobody here knows yet,
    thinking signatures and cache breakpoints arrive as the client wrote them. `headers`
    are the client's headers the provider must see (``anthropic-beta``, ``anthropic-version``).
    """

    wire: Wire
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = True
    query: Mapping[str, str] = field(default_factory=dict)  # Claude Code's ``?beta=true``


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat call, for one concrete model of one provider.

    `cache_prompt` asks for Anthropic prompt caching of the stable prefix (tools and system
    prompt) on top of any explicit `TextPart.cache` breakpoints. `timeout` bounds this one
    attempt in seconds; dispatch sets it from the request's deadline.
    """

    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    reasoning: ReasoningConfig | None = None
    cache_prompt: bool = False
    timeout: float | None = None
    user: str | None = None
    forward: Forward | None = None

    @property
    def system(self) -> str:
        """The system messages' text, joined by blank lines."""
        return "\n\n".join(m.text for m in self.messages if m.role == "system")

    @property
    def has_images(self) -> bool:
        return any(m.images for m in self.messages)

    def prompt_chars(self) -> int:
        """Characters of prompt text (messages, tool calls and tool schemas), for estimates."""
        total = sum(
            len(m.text) + sum(len(c.arguments) for c in m.tool_calls) for m in self.messages
        )
        return total + sum(len(json.dumps(t.parameters)) + len(t.description) for t in self.tools)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call. `input_tokens` counts every prompt token, cached ones included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  # every cache write, 5-minute and 1-hour
    reasoning_tokens: int = 0  # part of output_tokens where the provider counts them apart
    cache_write_1h_tokens: int = 0  # of `cache_write_tokens`, those written for an hour


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds from the call's start to its first content (or reasoning) token and its end."""

    first_token_s: float | None
    total_s: float


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A finished answer.

    `model` is the id the provider says answered; `response_id` its id for the call.
    `warnings` carries what the caller should know but is no error (Ollama truncated the
    prompt, a model ignored a parameter).
    """

    model: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: tuple[Reasoning, ...] = ()
    finish_reason: FinishReason = "stop"
    usage: Usage = Usage()
    timing: Timing = Timing(None, 0.0)
    response_id: str | None = None
    provider_finish: str | None = None  # the provider's own word: end_turn, max_tokens, …
    warnings: tuple[str, ...] = ()
    # A forwarded call's answer as the provider sent it: the whole JSON body, or a stream's
    # last event (held back so the call is on record before its last byte).
    raw: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()  # the provider's headers a client should see


@dataclass(frozen=True, slots=True)
class TextDelta:
    """More of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """More visible reasoning; progress, but not content (it does not end the TTFT wait)."""

    text: str = ""
    signature: str | None = None
    redacted: bool = False  # a whole redacted_thinking block: `text` is its opaque data


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of tool call `index`: its id and name when it starts, then argument text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event of a forwarded stream, as the provider sent it (its SSE bytes).

    `opening` events (``message_start``, ``response.created``, pings before content) carry
    no content: dispatch holds them until content comes, so a failure before it can still
    fall back unseen. `headers` rides on an attempt's first event: the provider's headers
    a client should see (request id, rate limits)."""

    data: bytes
    opening: bool = False
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Alive:
    """The provider's first event came, with no content yet (``message_start``, a chunk with
    only the role, ``response.created``, Ollama's first line): a sign of life, which
    dispatch reads (a model with none in a few seconds is hung) and never passes on."""


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of every stream that finished: the whole answer, usage and timing."""

    response: ChatResponse


Delta = TextDelta | ReasoningDelta | ToolCallDelta
StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | RawEvent | Alive | StreamEnd


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """Texts to embed with one model; `dimensions` shortens vectors where the model can."""

    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class EmbedResponse:
    """One vector per input, in order."""

    model: str
    vectors: tuple[tuple[float, ...], ...]
    usage: Usage = Usage()
    timing: Timing = Timing(None, 0.0)

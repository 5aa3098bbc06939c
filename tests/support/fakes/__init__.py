"""Local fake servers for the Anthropic, OpenAI and Ollama HTTP APIs, for tests.

Each fake speaks its provider's documented wire format, so the official SDKs can be driven
against it unchanged; a script of turns and faults decides what it answers::

    with FakeAnthropic() as fake:
        fake.enqueue(Turn(text="Hi"), Fault.status(529))
        client = AsyncAnthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
"""

from __future__ import annotations

from ._provider import ProviderFake
from .anthropic import FakeAnthropic
from .ollama import FakeOllama, OllamaModel
from .openai import FakeOpenAI
from .script import Fault, Script, ToolCall, Turn
from .server import FakeServer, RecordedRequest
from .vectors import embed_text

__all__ = [
    "FakeAnthropic",
    "FakeOllama",
    "FakeOpenAI",
    "FakeServer",
    "Fault",
    "OllamaModel",
    "ProviderFake",
    "RecordedRequest",
    "Script",
    "ToolCall",
    "Turn",
    "embed_text",
]

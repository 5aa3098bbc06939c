"""What is measured: one chat call through each path, all with the official SDKs.

- ``direct``: the openai SDK straight to the upstream (the baseline);
- ``cortexd``: the same SDK through cortexd's Unix socket, routed to OpenAI (the upstream);
- ``litellm-router``: LiteLLM's in-process `Router.acompletion` to the upstream;
- ``litellm-proxy``: the openai SDK through LiteLLM's proxy;
- ``anthropic-direct`` and ``cortexd-anthropic``: the Anthropic path, the anthropic SDK
  straight to the upstream against the openai SDK through cortexd routed to Claude;
- the agents' front-ends, passed through (the client's body forwarded with only ``model``
  changed, its SSE events relayed as sent): ``cortexd-messages`` (the anthropic SDK over
  cortexd's socket, ``POST /v1/messages``, model ``claude-sonnet-4-5``) against
  ``anthropic-direct``, and ``cortexd-responses`` (the openai SDK's ``responses.create``
  over the socket, ``POST /v1/responses``, model ``gpt-4o``) against ``responses-direct``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai

from benchmarks.load import Call, CpuClock
from benchmarks.processes import FAKE_KEY, LITELLM_OFFLINE

PROMPT = "What is the answer? Reply in one short sentence."
MESSAGES = [{"role": "user", "content": PROMPT}]
# Enough connections that the client's pool never queues requests at concurrency 128.
LIMITS = httpx2.Limits(max_connections=512, max_keepalive_connections=512)
#: The scenarios (benchmarks.__main__) a chat path runs, and an agent's front-end.
CHAT_SCENARIOS = ("c1", "c1 stream", "c32", "c128")
AGENT_SCENARIOS = ("c1", "c1 stream", "c32 stream")
#: The translated path (Chat Completions answered by sonnet) and its direct pair (issue 24).
TRANSLATED_SCENARIOS = ("c1", "c1 stream", "c32")


@dataclass
class Target:
    """A named path to the upstream, the baseline it is compared with, and its process."""

    name: str
    call: Call
    baseline: str
    server_cpu: CpuClock = lambda: None  # noqa: E731 - a default that reads "no process"
    scenarios: tuple[str, ...] = CHAT_SCENARIOS


def openai_call(client: openai.AsyncOpenAI, model: str) -> Call:
    """A chat completion through the openai SDK; streamed calls time the first content."""

    async def call(stream: bool) -> tuple[float | None, float]:
        started = time.perf_counter()
        if not stream:
            answer = await client.chat.completions.create(
                model=model,
                messages=MESSAGES,
                max_tokens=64,  # type: ignore[arg-type]
            )
            if not answer.choices[0].message.content:
                raise RuntimeError("empty answer")
            return None, time.perf_counter() - started
        first: float | None = None
        chunks: Any = await client.chat.completions.create(
            model=model,
            messages=MESSAGES,
            max_tokens=64,
            stream=True,  # type: ignore[arg-type]
        )
        async for chunk in chunks:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        if first is None:
            raise RuntimeError("no content streamed")
        return first, time.perf_counter() - started

    return call


def anthropic_call(client: anthropic.AsyncAnthropic, model: str) -> Call:
    """A Messages call through the anthropic SDK; streamed calls time the first text delta."""

    async def call(stream: bool) -> tuple[float | None, float]:
        started = time.perf_counter()
        if not stream:
            await client.messages.create(
                model=model,
                max_tokens=64,
                messages=MESSAGES,  # type: ignore[arg-type]
            )
            return None, time.perf_counter() - started
        first: float | None = None
        async with client.messages.stream(
            model=model,
            max_tokens=64,
            messages=MESSAGES,  # type: ignore[arg-type]
        ) as events:
            async for _text in events.text_stream:
                if first is None:
                    first = time.perf_counter() - started
        return first, time.perf_counter() - started

    return call


def responses_call(client: openai.AsyncOpenAI, model: str) -> Call:
    """A Responses call through the openai SDK; streamed calls time the first text delta."""

    async def call(stream: bool) -> tuple[float | None, float]:
        started = time.perf_counter()
        if not stream:
            answer = await client.responses.create(model=model, input=PROMPT, max_output_tokens=64)
            if not answer.output_text:
                raise RuntimeError("empty answer")
            return None, time.perf_counter() - started
        first: float | None = None
        events = await client.responses.create(
            model=model, input=PROMPT, max_output_tokens=64, stream=True
        )
        async for event in events:
            if first is None and event.type == "response.output_text.delta":
                first = time.perf_counter() - started
        if first is None:
            raise RuntimeError("no content streamed")
        return first, time.perf_counter() - started

    return call


def socket_client(sock: Path, timeout: float = 60.0) -> httpx2.AsyncClient:
    """A keep-alive pool on cortexd's Unix socket."""
    transport = httpx2.AsyncHTTPTransport(uds=str(sock), limits=LIMITS)
    return httpx2.AsyncClient(transport=transport, timeout=timeout)


def _openai_on_loopback(port: int, api_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=api_key,
        max_retries=0,
        http_client=httpx2.AsyncClient(limits=LIMITS, timeout=60),
    )


def direct(port: int) -> Target:
    client = _openai_on_loopback(port, FAKE_KEY)
    return Target("direct", openai_call(client, "gpt-4o"), "direct")


def through_cortexd(
    sock: Path, server_cpu: CpuClock, model: str = "gpt-4o", name: str = "cortexd"
) -> Target:
    client = openai.AsyncOpenAI(
        base_url="http://cortexd/v1",
        api_key="unused",  # the socket is guarded by the peer's uid, not a key
        max_retries=0,
        http_client=socket_client(sock),
    )
    if model == "gpt-4o":
        return Target(name, openai_call(client, model), "direct", server_cpu)
    call = openai_call(client, model)
    name = "cortexd-anthropic" if name == "cortexd" else name
    return Target(name, call, "anthropic-direct", server_cpu, TRANSLATED_SCENARIOS)


def anthropic_direct(port: int) -> Target:
    client = anthropic.AsyncAnthropic(
        base_url=f"http://127.0.0.1:{port}",
        api_key=FAKE_KEY,
        max_retries=0,
        http_client=httpx2.AsyncClient(limits=LIMITS, timeout=60),
    )
    call = anthropic_call(client, "claude-sonnet-4-5")
    return Target("anthropic-direct", call, "anthropic-direct", scenarios=AGENT_SCENARIOS)


def messages_through_cortexd(
    sock: Path, server_cpu: CpuClock, name: str = "cortexd-messages"
) -> Target:
    """The anthropic SDK over cortexd's socket: ``POST /v1/messages``, passed through."""
    client = anthropic.AsyncAnthropic(
        base_url="http://cortexd",
        api_key="unused",  # the socket is guarded by the peer's uid, not a key
        max_retries=0,
        http_client=socket_client(sock),
    )
    call = anthropic_call(client, "claude-sonnet-4-5")
    return Target(name, call, "anthropic-direct", server_cpu, AGENT_SCENARIOS)


def responses_direct(port: int) -> Target:
    client = _openai_on_loopback(port, FAKE_KEY)
    call = responses_call(client, "gpt-4o")
    return Target("responses-direct", call, "responses-direct", scenarios=AGENT_SCENARIOS)


def responses_through_cortexd(
    sock: Path, server_cpu: CpuClock, name: str = "cortexd-responses"
) -> Target:
    """The openai SDK's ``responses.create`` over cortexd's socket, passed through."""
    client = openai.AsyncOpenAI(
        base_url="http://cortexd/v1", api_key="unused", max_retries=0,
        http_client=socket_client(sock),
    )  # fmt: skip
    call = responses_call(client, "gpt-4o")
    return Target(name, call, "responses-direct", server_cpu, AGENT_SCENARIOS)


def litellm_router(port: int) -> Target:
    """LiteLLM's Router in this process (imported here: it takes seconds)."""
    os.environ.update(LITELLM_OFFLINE)
    import litellm

    litellm.telemetry = False
    router = litellm.Router(  # type: ignore[attr-defined]
        model_list=[
            {
                "model_name": "gpt-4o",
                "litellm_params": {
                    "model": "openai/gpt-4o",
                    "api_base": f"http://127.0.0.1:{port}/v1",
                    "api_key": FAKE_KEY,
                },
            }
        ],
        num_retries=0,
    )

    async def call(stream: bool) -> tuple[float | None, float]:
        started = time.perf_counter()
        answer: Any = await router.acompletion(  # type: ignore[call-overload]
            model="gpt-4o", messages=MESSAGES, max_tokens=64, stream=stream
        )
        if not stream:
            return None, time.perf_counter() - started
        first: float | None = None
        async for chunk in answer:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        return first, time.perf_counter() - started

    return Target("litellm-router", call, "direct")


def litellm_proxy(port: int, master_key: str, server_cpu: CpuClock) -> Target:
    client = _openai_on_loopback(port, master_key)
    return Target("litellm-proxy", openai_call(client, "gpt-4o"), "direct", server_cpu)

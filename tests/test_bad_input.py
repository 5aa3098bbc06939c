"""One client's bad input never harms another (issue 20, section 3), and the API says what it
does (section 4).

What cannot be encoded or is out of range is a 400 at the edge, in the endpoint's own error
shape, and nothing reaches a provider; a failure the request caused never counts against a
model's circuit breaker; an internal error is a JSON 500 without a traceback.
"""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from support.app import App
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

from cortexd.api import body as body_module
from cortexd.api import ranges
from cortexd.routing.catalog import BUILTIN_MODELS
from cortexd.routing.dispatch.health import ModelHealth
from cortexd.routing.providers import ChatMessage, ChatRequest, InvalidRequestError
from cortexd.routing.providers.anthropic import AnthropicProvider
from cortexd.routing.providers.anthropic import endpoint_from_env as anthropic_endpoint
from cortexd.routing.providers.openai import OpenAIProvider
from cortexd.routing.providers.openai import endpoint_from_env as openai_endpoint

Fakes = tuple[FakeAnthropic, FakeOpenAI]
LONE = "\ud800"  # a UTF-16 surrogate on its own: no UTF-8 encoding exists for it
USER = [{"role": "user", "content": "hi"}]


def post(app: App, path: str, body: object, **headers: str) -> Any:
    """`body` as JSON text the way a client escapes it (``"\\ud800"``), posted raw."""
    content = json.dumps(body).encode()
    sent = {"content-type": "application/json", **headers}
    return app.client().post(path, content=content, headers=sent)


def assert_shaped_400(answer: Any, path: str) -> str:
    """The endpoint's own 400 shape; returns the message."""
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    if path.startswith("/v1/messages"):
        assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
    else:
        assert data["error"]["type"] == "invalid_request_error"
    message: str = data["error"]["message"]
    return message


def assert_nothing_sent(fakes: Fakes) -> None:
    for fake in fakes:
        assert fake.requests == [], [r.path for r in fake.requests]


# -- text that cannot be encoded ------------------------------------------------------------

MESSAGES = {"model": "sonnet", "max_tokens": 100, "messages": USER}
RESPONSES = {"model": "gpt-4o", "input": "hi"}
CHAT = {"model": "gpt-4o", "messages": USER}

UNENCODABLE = [
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": f"a{LONE}"}]},
     "messages.0.content"),
    ("/v1/chat/completions", {**CHAT, "model": f"gpt-4o{LONE}"}, "model"),
    ("/v1/chat/completions", {**CHAT, "model": "auto", "cortex": {"task": f"x{LONE}"}},
     "cortex.task"),
    ("/v1/chat/completions", {**CHAT, "user": LONE}, "user"),
    ("/v1/chat/completions", {**CHAT, f"extra{LONE}": 1}, "extra\\ud800"),
    ("/v1/chat/completions",
     {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": LONE}]}]},
     "messages.0.content.0.text"),
    ("/v1/route", {**CHAT, "messages": [{"role": "user", "content": LONE}]},
     "messages.0.content"),
    ("/v1/messages",
     {**MESSAGES, "messages": [{"role": "user", "content": [{"type": "text", "text": LONE}]}]},
     "messages.0.content.0.text"),
    ("/v1/messages", {**MESSAGES, "model": f"sonnet{LONE}"}, "model"),
    ("/v1/messages", {**MESSAGES, "system": LONE}, "system"),
    ("/v1/messages/count_tokens", {**MESSAGES, "messages": [{"role": "user", "content": LONE}]},
     "messages.0.content"),
    ("/v1/responses", {**RESPONSES, "input": f"hi {LONE}"}, "input"),
    ("/v1/responses",
     {**RESPONSES,
      "input": [{"role": "user", "content": [{"type": "input_text", "text": LONE}]}]},
     "input.0.content.0.text"),
    ("/v1/responses", {**RESPONSES, "instructions": LONE}, "instructions"),
    ("/v1/responses", {**RESPONSES, "model": LONE}, "model"),
    ("/v1/embeddings", {"model": "auto", "input": ["fine", LONE]}, "input.1"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "where"), UNENCODABLE)
def test_text_that_cannot_be_encoded_is_a_400_at_the_edge(
    app: App, fresh: Fakes, path: str, body: dict[str, Any], where: str
) -> None:
    answer = post(app, path, body)
    message = assert_shaped_400(answer, path)
    assert message.startswith(f"{where}: ") and "lone surrogate (\\ud800)" in message
    assert_nothing_sent(fresh)


def test_an_escaped_surrogate_pair_is_one_character_and_goes_through(
    app: App, fresh: Fakes
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Turn(text="a smile"))
    answer = post(app, "/v1/chat/completions", {**CHAT, "messages": [
        {"role": "user", "content": "what is \U0001f600?"}]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert openai_fake.requests[-1].json["messages"][0]["content"] == "what is \U0001f600?"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\xed\xa0\x80"}]}',
         "not UTF-8"),  # a surrogate's own bytes (CESU-8), which json.loads would take
        ('{"model": "gpt-4o"}'.encode("utf-16"), "not UTF-8"),
        (b'{"model": "gpt-4o", "temperature": 1e999, "messages": []}', "not finite"),
        (b'{"model": "gpt-4o", "temperature": NaN, "messages": []}', "NaN"),
        (b'{"model": "gpt-4o", "top_p": -Infinity, "messages": []}', "-Infinity"),
    ],
)  # fmt: skip
def test_bytes_and_numbers_json_cannot_carry_are_a_400(
    app: App, fresh: Fakes, raw: bytes, says: str
) -> None:
    answer = app.client().post("/v1/chat/completions", content=raw)
    assert says in assert_shaped_400(answer, "/v1/chat/completions")
    assert_nothing_sent(fresh)


def test_the_body_readers_examples() -> None:
    result = doctest.testmod(body_module)
    assert result.attempted > 0 and result.failed == 0


# -- numbers out of range --------------------------------------------------------------------

HUGE = 2**70
OUT_OF_RANGE = [
    ("/v1/chat/completions", {**CHAT, "max_tokens": HUGE}, "max_tokens"),
    ("/v1/chat/completions", {**CHAT, "max_tokens": -1}, "max_tokens"),
    ("/v1/chat/completions", {**CHAT, "max_completion_tokens": 1_000_001}, "max_completion_tokens"),
    ("/v1/chat/completions", {**CHAT, "temperature": 1e308}, "temperature"),
    ("/v1/chat/completions", {**CHAT, "top_p": -0.1}, "top_p"),
    ("/v1/chat/completions", {**CHAT, "presence_penalty": 9}, "presence_penalty"),
    ("/v1/chat/completions", {**CHAT, "seed": HUGE}, "seed"),
    ("/v1/route", {**CHAT, "max_tokens": HUGE}, "max_tokens"),
    ("/v1/messages", {**MESSAGES, "max_tokens": HUGE}, "max_tokens"),
    ("/v1/messages", {**MESSAGES, "max_tokens": -1}, "max_tokens"),
    ("/v1/messages", {**MESSAGES, "temperature": 1e308}, "temperature"),
    ("/v1/messages", {**MESSAGES, "top_k": -3}, "top_k"),
    ("/v1/messages", {**MESSAGES, "thinking": {"type": "enabled", "budget_tokens": HUGE}},
     "thinking.budget_tokens"),
    ("/v1/messages/count_tokens", {**MESSAGES, "max_tokens": HUGE}, "max_tokens"),
    ("/v1/responses", {**RESPONSES, "max_output_tokens": HUGE}, "max_output_tokens"),
    ("/v1/responses", {**RESPONSES, "max_output_tokens": 0}, "max_output_tokens"),
    ("/v1/responses", {**RESPONSES, "temperature": 3}, "temperature"),
    ("/v1/responses", {**RESPONSES, "top_p": 1e308}, "top_p"),
    ("/v1/embeddings", {"input": "x", "dimensions": HUGE}, "dimensions"),
    ("/v1/embeddings", {"input": "x", "dimensions": 0}, "dimensions"),
    ("/v1/embeddings", {"input": ["x"] * 2049}, "input"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field"), OUT_OF_RANGE)
def test_a_number_out_of_range_is_a_400_naming_its_field(
    app: App, fresh: Fakes, path: str, body: dict[str, Any], field: str
) -> None:
    """Not the 503 with Retry-After that ``max_tokens: 2**70`` got (SDKs retry a 503)."""
    answer = post(app, path, body)
    message = assert_shaped_400(answer, path)
    assert field in message, message
    assert "retry-after" not in answer.headers
    assert_nothing_sent(fresh)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {**CHAT, "max_tokens": 16_000, "temperature": 2, "seed": -1}),
        ("/v1/messages", {**MESSAGES, "max_tokens": 64_000, "temperature": 0, "top_k": 40}),
        ("/v1/responses", {**RESPONSES, "max_output_tokens": 100_000, "top_p": 1}),
    ],
)
def test_numbers_at_their_bounds_go_through(
    app: App, fresh: Fakes, path: str, body: dict[str, Any]
) -> None:
    for fake in fresh:
        fake.enqueue(Turn(text="fine"))
    answer = post(app, path, body)
    assert answer.status_code == 200, answer.text


def test_the_ranges_examples() -> None:
    result = doctest.testmod(ranges)
    assert result.attempted > 0 and result.failed == 0


# -- content types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),  # curl -d without -H
        ("multipart/form-data; boundary=x", 415),
        ("application/xml", 415),
        ("application/json; charset=utf-8", 200),
        ("application/vnd.api+json", 200),
        ("", 200),  # none said: read as JSON
    ],
)
def test_a_body_declared_as_something_else_than_json_is_a_415(
    app: App, fresh: Fakes, content_type: str, status: int
) -> None:
    content = json.dumps({"messages": USER}).encode()
    headers = {"content-type": content_type} if content_type else {}
    answer = app.client().post("/v1/route", content=content, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 415:
        assert "application/json" in answer.json()["error"]["message"]


def test_a_415_on_the_messages_endpoint_is_in_anthropics_shape(app: App, fresh: Fakes) -> None:
    answer = app.client().post(
        "/v1/messages", content=b"hi", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 415
    assert answer.json()["type"] == "error"
    assert answer.json()["error"]["type"] == "invalid_request_error"


# -- a failure the request caused never counts against a model -------------------------------


def test_upstream_400s_never_open_a_models_circuit(app: App, fresh: Fakes) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(*[Fault.status(400, message="'temperature' is wrong")] * 5)
    for _ in range(5):  # three failures that counted would open gpt-4o's circuit
        answer = post(app, "/v1/chat/completions", CHAT)
        assert answer.status_code == 400 and "'temperature' is wrong" in answer.text
    assert len(openai_fake.requests) == 5  # not retried: retrying a wrong request cannot help
    openai_fake.enqueue(Turn(text="still here"))
    answer = post(app, "/v1/chat/completions", CHAT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "still here"


@pytest.mark.anyio
async def test_a_request_the_sdk_cannot_encode_is_the_requests_fault(
    anthropic_fake: FakeAnthropic, openai_fake: FakeOpenAI
) -> None:
    """Behind the edge's check, an adapter still never blames the provider ("sent malformed
    JSON", retried, counted) for a request it could not encode."""
    request = ChatRequest("m", (ChatMessage.of("user", f"a{LONE}"),), max_tokens=10)
    gpt = OpenAIProvider(openai_endpoint("sk-test", openai_fake.base_url, env={}))
    claude = AnthropicProvider(anthropic_endpoint("sk-ant-test", anthropic_fake.base_url, env={}))
    health = ModelHealth(clock=lambda: 0.0)
    spec = next(s for s in BUILTIN_MODELS if s.name == "gpt-4o")
    try:
        for provider, model in ((gpt, "gpt-4o"), (claude, "claude-sonnet-5-5")):
            with pytest.raises(InvalidRequestError, match="cannot be encoded"):
                await provider.complete(ChatRequest(model, request.messages, max_tokens=10))
            with pytest.raises(InvalidRequestError) as caught:
                async for _ in provider.stream(ChatRequest(model, request.messages, max_tokens=10)):
                    pass
            for _ in range(5):
                health.failed(spec, caught.value)
    finally:
        await gpt.aclose()
        await claude.aclose()
    assert health.skip_reason(spec) is None and not health.breakers.is_open("gpt-4o")
    assert openai_fake.requests == [] and anthropic_fake.requests == []


# -- an internal error is a JSON 500 ----------------------------------------------------------


def test_an_internal_error_is_a_json_500_without_a_traceback(app: App) -> None:
    async def planted(request: Request) -> Response:
        raise RuntimeError("a planted bug, Traceback and all")

    # A route outside the API's guard, as a bug that escapes it would be; served by uvicorn on
    # the socket, where the answer is what a client really gets.
    routes = [
        Route(p, planted, methods=["POST"]) for p in ("/test/planted", "/v1/messages/planted")
    ]
    app.app.router.routes.extend(routes)
    try:
        check_the_planted_500(app)
    finally:
        for route in routes:
            app.app.router.routes.remove(route)


def check_the_planted_500(app: App) -> None:
    # A connection each: uvicorn closes one whose application raised, after the answer.
    openai_shape = app.socket_client().post("/test/planted", json={})
    assert openai_shape.status_code == 500
    assert openai_shape.headers["content-type"] == "application/json"
    assert openai_shape.json()["error"]["code"] == "internal_error"
    assert "Traceback" not in openai_shape.text and "planted" not in openai_shape.text
    anthropic_shape = app.socket_client().post("/v1/messages/planted", json={})
    assert anthropic_shape.status_code == 500
    assert anthropic_shape.json()["error"]["type"] == "api_error"
    assert app.socket_client().get("/v1/health").status_code == 200  # and it still serves


# -- the API says what it does (section 4) ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "param"),
    [({"n": 3}, "n"), ({"logprobs": True, "top_logprobs": 2}, "logprobs"),
     ({"top_logprobs": 2}, "top_logprobs")],
)  # fmt: skip
def test_n_and_logprobs_go_through_to_an_openai_model_the_client_names(
    app: App, fresh: Fakes, options: dict[str, Any], param: str
) -> None:
    _, openai_fake = fresh
    openai_fake.enqueue(Turn(text="one of three"))
    answer = post(app, "/v1/chat/completions", {**CHAT, **options})
    assert answer.status_code == 200, answer.text
    sent = openai_fake.requests[-1].json
    assert {k: sent.get(k) for k in options} == options  # OpenAI gets them as written


@pytest.mark.parametrize("model", ["auto", "task:Meeting summary", "sonnet", "codex"])
@pytest.mark.parametrize(("options", "param"), [({"n": 2}, "n"), ({"logprobs": True}, "logprobs")])
def test_n_and_logprobs_anywhere_else_are_a_400_that_says_so(
    app: App, fresh: Fakes, model: str, options: dict[str, Any], param: str
) -> None:
    """Routed or translated, the answer would have one choice and no log probabilities."""
    answer = post(app, "/v1/chat/completions", {**CHAT, "model": model, **options})
    message = assert_shaped_400(answer, "/v1/chat/completions")
    assert message.startswith(f"{param}: ") and "gpt-4o" in message and f"'{model}'" in message
    assert answer.json()["error"]["param"] == param
    assert_nothing_sent(fresh)
    # One choice and no log probabilities are what every model gives: those go anywhere.
    assert post(app, "/v1/route", {**CHAT, "model": model, "n": 1, "logprobs": False}).is_success


EMPTY_PROMPTS = [
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": ""}]}),
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "  \n"}]}),
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": []}]}),
    ("/v1/chat/completions", {**CHAT, "model": "auto", "messages": [
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": " "}]}]}),
    ("/v1/route", {**CHAT, "messages": [{"role": "user", "content": ""}]}),
    ("/v1/messages", {**MESSAGES, "messages": [{"role": "user", "content": ""}]}),
    ("/v1/messages", {**MESSAGES, "messages": [{"role": "user", "content": []}]}),
    ("/v1/messages",
     {**MESSAGES, "messages": [{"role": "user", "content": [{"type": "text", "text": "\t"}]}]}),
    ("/v1/messages/count_tokens", {**MESSAGES, "messages": [{"role": "user", "content": " "}]}),
    ("/v1/responses", {**RESPONSES, "input": "   "}),
    ("/v1/responses", {**RESPONSES, "input": [{"role": "user", "content": ""}]}),
    ("/v1/responses", {**RESPONSES, "input": [
        {"role": "user", "content": [{"type": "input_text", "text": ""}]}]}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), EMPTY_PROMPTS)
def test_an_empty_prompt_is_a_400_and_nothing_is_sent(
    app: App, fresh: Fakes, path: str, body: dict[str, Any]
) -> None:
    message = assert_shaped_400(post(app, path, body), path)
    assert "the last user message has no text" in message
    assert_nothing_sent(fresh)


IMAGE = "data:image/png;base64,iVBORw0KGgo="
NOT_EMPTY = [
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": IMAGE}}]}]}),
    ("/v1/messages", {**MESSAGES, "messages": [
        {"role": "user", "content": "look this up"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "search", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": ""}]}]}),
    ("/v1/responses", {**RESPONSES, "input": [
        {"role": "user", "content": "look this up"},
        {"type": "function_call", "call_id": "c1", "name": "search", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": ""}]}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), NOT_EMPTY)
def test_an_image_or_a_tool_result_is_something_to_answer(
    app: App, fresh: Fakes, path: str, body: dict[str, Any]
) -> None:
    for fake in fresh:
        fake.enqueue(Turn(text="done"))
    answer = post(app, path, body)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("cortex", "nearest"),
    [({"tsak": "Coding"}, "task"), ({"local-only": True}, "local_only"),
     ({"second_opinon": True}, "second_opinion"), ({"colour": "blue"}, None)],
)  # fmt: skip
def test_a_misspelled_key_in_the_cortex_object_is_a_400_naming_the_nearest(
    app: App, fresh: Fakes, cortex: dict[str, Any], nearest: str | None
) -> None:
    for path in ("/v1/chat/completions", "/v1/route"):
        answer = post(app, path, {**CHAT, "model": "auto", "cortex": cortex})
        message = assert_shaped_400(answer, path)
        key = next(iter(cortex))
        assert message.startswith(f"cortex: unknown key '{key}'")
        if nearest is None:
            assert "did you mean" not in message
        else:
            assert f"did you mean '{nearest}'?" in message
        assert "task, local_only, author, client, project, second_opinion" in message
    assert_nothing_sent(fresh)


@pytest.mark.parametrize(
    ("body", "told"),
    [({**CHAT, "model": "task:Embeddings"}, "'auto'"),
     ({**CHAT, "model": "task: embeddings"}, "'auto'"),
     ({**CHAT, "model": "auto", "cortex": {"task": "Embeddings"}}, "'auto'"),
     ({**CHAT, "model": "nomic-embed-text"}, "'nomic-embed-text'"),
     ({**CHAT, "model": "text-embedding-3-small"}, "'text-embedding-3-small'")],
)  # fmt: skip
def test_embeddings_asked_for_a_chat_answer_is_a_400_pointing_at_v1_embeddings(
    app: App, fresh: Fakes, body: dict[str, Any], told: str
) -> None:
    for path in ("/v1/chat/completions", "/v1/route"):
        answer = post(app, path, body)
        message = assert_shaped_400(answer, path)
        assert "POST /v1/embeddings" in message and f"(model {told})" in message
        assert answer.json()["error"]["code"] == "wrong_endpoint"
    assert_nothing_sent(fresh)


def test_v1_models_lists_task_embeddings_only_as_an_embeddings_route(app: App) -> None:
    client = app.client()
    listed = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert listed["task:Embeddings"]["endpoint"] == "/v1/embeddings"
    assert listed["task:Meeting summary"]["endpoint"] == "/v1/chat/completions"
    claude = client.get("/v1/models", headers={"anthropic-version": "2023-06-01"}).json()
    ids = {m["id"] for m in claude["data"]}
    assert "task:Meeting summary" in ids and "sonnet" in ids
    assert "task:Embeddings" not in ids and "nomic-embed-text" not in ids  # no use to Messages


def test_task_embeddings_is_the_embeddings_route_on_v1_embeddings(app: App, fresh: Fakes) -> None:
    routed = post(app, "/v1/embeddings", {"model": "auto", "input": "x"})
    named = post(app, "/v1/embeddings", {"model": "task:Embeddings", "input": "x"})
    assert (named.status_code, named.json()) == (routed.status_code, routed.json())
    assert "unknown model" not in named.text
    chat_route = post(app, "/v1/embeddings", {"model": "task:Meeting summary", "input": "x"})
    assert "is a chat route" in assert_shaped_400(chat_route, "/v1/embeddings")

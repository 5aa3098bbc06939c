"""``POST /v1/embeddings``: the texts embedded by the model the request names, or by the
Embeddings route's chain, through dispatch as chat is (skips, one retry, fallback, circuit
breakers, one deadline); one call row per request, committed before the answer is sent."""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.api.body import read_json
from cortexd.api.errors import ApiError
from cortexd.api.recording import EmbeddingCall
from cortexd.api.validation import _Model, parse_body
from cortexd.pipeline.run import provider_error, ready_for
from cortexd.routing import EMBEDDINGS_TASK, InputType, RoutingTable
from cortexd.routing.dispatch import CannotEmbedError, ChainExhaustedError, EmbedResult
from cortexd.routing.providers import EmbedRequest, InvalidRequestError
from cortexd.services import Services

if TYPE_CHECKING:
    from cortexd.local_rows import LocalState

#: The model names that ask for the Embeddings route instead of one model.
ROUTED = ("auto", "", "default")


def routed(model: str, table: RoutingTable) -> bool:
    """Whether `model` asks for the Embeddings route (``task:Embeddings``, as ``/v1/models``
    lists it, included) rather than one model."""
    name = model.strip()
    if name.casefold().startswith("task:"):
        return table.find_task(name[5:]) == EMBEDDINGS_TASK
    return name in ROUTED


#: OpenAI's limit on the texts of one request.
MAX_INPUTS = 2048
#: More dimensions than any embedding model makes (OpenAI's largest: 3072).
MAX_DIMENSIONS = 65_536


class EmbeddingsBody(_Model):
    """The request body of ``POST /v1/embeddings``."""

    model: str = "auto"
    input: str | list[str] = Field(min_length=1)
    dimensions: int | None = Field(default=None, gt=0, le=MAX_DIMENSIONS, strict=True)
    encoding_format: Literal["float", "base64"] = "float"
    # What the texts are for; models trained with task prefixes (nomic-embed-text) get them.
    input_type: InputType | None = None

    @field_validator("input")
    @classmethod
    def _not_too_many(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) > MAX_INPUTS:
            raise ValueError(f"at most {MAX_INPUTS} texts in one request")
        return value


def vectors_json(vectors: tuple[tuple[float, ...], ...], encoding: str) -> list[dict[str, Any]]:
    """OpenAI's ``data`` list: each vector as floats, or as little-endian float32 in base64.

    >>> vectors_json(((1.0, 0.5),), "float")
    [{'object': 'embedding', 'index': 0, 'embedding': [1.0, 0.5]}]
    >>> vectors_json(((1.0,),), "base64")[0]["embedding"]
    'AACAPw=='
    """
    data = []
    for index, vector in enumerate(vectors):
        value: Any = list(vector)
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    return data


def chain_for(table: RoutingTable, model: str) -> tuple[str, ...]:
    """The models to try: the one named, or the Embeddings route's local row of `table` and
    its fallbacks."""
    if not routed(model, table):
        return (model,)
    found = table.find_task("Embeddings")
    local = table.local.get(found) if found else None
    return (local.model, *local.fallback) if local else ("nomic-embed-text",)


def _answer(result: EmbedResult, encoding: str) -> Response:
    # The concrete model id of the model that answered, as OpenAI names its own.
    model_id = next(a.model_id for a in reversed(result.dispatch.attempts) if a.outcome == "ok")
    usage = result.response.usage
    return JSONResponse(
        {
            "object": "list",
            "data": vectors_json(result.response.vectors, encoding),
            "model": model_id,
            "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens},
        }
    )


def _no_model(local: LocalState, error: ChainExhaustedError, explicit: bool) -> ApiError:
    answer = provider_error(error)
    if explicit and isinstance(error, CannotEmbedError):
        # The named model cannot embed (a chat model, no key, not pulled): asking again will
        # not help, so this is the request's error.
        why = "; ".join(f"{model}: {reason}" for model, reason in error.failures)
        message = f"cannot make embeddings — {why}"
        return ApiError(400, message, code="model_not_found", param="model")
    row = next((r for r in local.rows if r.task == "Embeddings"), None)
    if not explicit and row is not None and not row.active:
        # The seed names no cloud model for embeddings: say why the local one cannot serve.
        answer.message = (
            f"no local embedding model is available: {row.model}: {row.why} "
            f"(cortex hardware shows the local rows); {answer.message}"
        )
    return answer


async def embeddings(request: Request) -> Response:
    """``POST /v1/embeddings`` to the model the request names (``auto``: the Embeddings route)."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), EmbeddingsBody)
    routing = services.routing  # one generation for the whole request
    catalog = routing.catalog
    explicit = not routed(body.model, routing.table)
    if body.model.strip().casefold().startswith("task:") and explicit:
        raise ApiError(
            400,
            f"'{body.model}' is a chat route: for embeddings, name 'auto' or "
            f"'task:{EMBEDDINGS_TASK}' (the Embeddings route), or an embedding model",
            code="model_not_found",
            param="model",
        )
    if explicit and catalog.resolve(body.model) is None:
        raise ApiError(
            400,
            f"unknown model '{body.model}'; valid names: {', '.join(catalog.names())}",
            code="model_not_found",
            param="model",
        )
    names = chain_for(routing.table, body.model)
    inputs = (body.input,) if isinstance(body.input, str) else tuple(body.input)
    await ready_for(routing, services.registry, names)
    call = EmbeddingCall(
        names,
        explicit,
        request.headers.get("user-agent"),
        routing=routing,
        attempt_log=services.attempt_log,
        ledger=services.ledger,
    )
    try:
        result = await services.dispatcher.embed(
            names,
            EmbedRequest(body.model, inputs, body.dimensions),
            request_id=call.id,
            input_type=body.input_type,
            catalog=routing.catalog,
        )
    except InvalidRequestError as error:
        await call.commit(error=error)
        raise ApiError(400, str(error)) from None
    except ChainExhaustedError as error:
        await call.commit(error=error)
        raise _no_model(services.local, error, explicit) from None
    except BaseException as error:
        # The client left (cancelled), or a bug: the row is queued, not waited for.
        call.abandon(error if isinstance(error, Exception) else None)
        raise
    await call.commit(result)
    return _answer(result, body.encoding_format)

"""What Chat Completions cannot do for a request, refused as a 400 that says so.

Checked before routing: an answer that silently left out what was asked (more choices, log
probabilities) or an embedding model asked to chat would be worse than the refusal, which
names the endpoint or the models that would do it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexd.api.chat_request import ChatBody
from cortexd.api.errors import ApiError
from cortexd.routing import (
    EMBEDDINGS_TASK,
    RESERVED_NAMES,
    AmbiguousModelError,
    Api,
    ModelSpec,
    Provider,
)

if TYPE_CHECKING:
    from cortexd.routing_generation import Routing


def _passed_through_only(body: ChatBody) -> str | None:
    """The first option set that only OpenAI's own Chat Completions answers."""
    if body.n is not None and body.n > 1:
        return "n"
    if body.logprobs:
        return "logprobs"
    if body.top_logprobs:
        return "top_logprobs"
    return None


def check_served(body: ChatBody, routing: Routing) -> None:
    """What Chat Completions cannot do for `body` is a 400 that says so, not an answer that
    silently leaves it out.

    - The Embeddings route, or an embedding model, asked for an answer: that is
      ``POST /v1/embeddings``.
    - ``n > 1``, ``logprobs``, ``top_logprobs``: they come back only where the body goes
      through as written, which is to an OpenAI Chat Completions model the client names
      (`pipeline.plan.keep_forward`; an explicit model has no fallback). Routed (``auto``,
      ``task:…``) or translated for another provider, the answer would have one choice and
      no log probabilities.
    """
    model = body.model.strip()
    routed = model.casefold() in _ROUTED or model.casefold().startswith("task:")
    task = model[5:] if model.casefold().startswith("task:") else None
    if task is None and routed and body.cortex is not None:
        task = body.cortex.task
    catalog = routing.catalog
    try:
        spec = None if routed else catalog.resolve(model)
    except AmbiguousModelError:
        return  # the router says so, with the candidates
    if not routed and spec is None:
        return  # an unknown model: the router says so, with the valid names
    embeds = spec is not None and (spec.embedding or spec.api is Api.EMBEDDINGS)
    if embeds or (task is not None and routing.table.find_task(task) == EMBEDDINGS_TASK):
        asked = f"'{model}'" if spec else f"the {EMBEDDINGS_TASK} route"
        raise ApiError(
            400,
            f"{asked} makes embeddings, not chat answers: send the texts to POST /v1/embeddings "
            f"(model '{model if spec else 'auto'}')",
            param="model",
            code="wrong_endpoint",
        )
    option = _passed_through_only(body)
    if option is None or spec is not None and _goes_through(spec):
        return
    what = "more than one choice comes" if option == "n" else "log probabilities come"
    names = ", ".join(s.name for s in catalog if _goes_through(s)) or "none is configured"
    if spec is None:
        why = f"'{model}' is routed, and any provider may answer it"
    else:
        why = f"'{model}' is a {spec.provider.value} model, whose answer is translated"
    raise ApiError(
        400,
        f"{option}: {what} back only from an OpenAI Chat Completions model the request names "
        f"({names}), which is sent the request as written; {why}",
        param=option,
        code="unsupported_parameter",
    )


def _goes_through(spec: ModelSpec) -> bool:
    """Whether a Chat Completions body reaches `spec` as written, when the client names it."""
    return spec.provider is Provider.OPENAI and spec.api is Api.CHAT


#: The model names that ask the router to choose (``task:…`` names a route too).
_ROUTED = frozenset({"", *RESERVED_NAMES})

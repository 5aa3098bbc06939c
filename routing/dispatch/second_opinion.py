"""Second opinions: a model from another provider answers too, and a cheap judge compares.

For task types named in ``## Cross-Validation`` (or on request), the main chain and the
second model run concurrently; when both have answered, the judge — the Classification /
routing route, a cheap model — is asked for JSON ({"agree", "differences", "summary"}), which
is validated. The main answer always comes back: a second model or a judge that fails (or
answers nonsense) only marks the result, and the main answer's failure is the request's.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

from cortexd.routing.catalog import Catalog
from cortexd.routing.dispatch.dispatcher import Dispatcher
from cortexd.routing.dispatch.state import DispatchResult
from cortexd.routing.errors import CortexError
from cortexd.routing.json_answer import NotAJsonObject, json_object
from cortexd.routing.providers.chat import ChatMessage, ChatRequest, ChatResponse, ResponseFormat
from cortexd.routing.table import RoutingTable

Status = Literal["agree", "disagree", "second-failed", "judge-failed", "no-second-model"]
#: The task type whose route judges (the seed: haiku, for classification and routing).
JUDGE_TASK = "Classification / routing"
#: How much of each answer the judge reads; enough to compare, cheap to send.
_EXCERPT = 6000
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "agree": {"type": "boolean"},
        "differences": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
    },
    "required": ["agree", "differences", "summary"],
    "additionalProperties": False,
}
_JUDGE_SYSTEM = (
    "You compare two answers to the same request. Decide whether they agree on substance "
    "(wording and style do not matter; facts, conclusions, code behaviour and recommendations "
    "do). Reply with one JSON object: "
    '{"agree": true|false, "differences": ["each point where they differ"], '
    '"summary": "one sentence"}.'
)


@dataclass(frozen=True)
class Verdict:
    """The judge's comparison of the two answers."""

    agree: bool
    differences: tuple[str, ...]
    summary: str
    judge: str


@dataclass(frozen=True)
class SecondOpinion:
    """The main answer, the second model's, and the verdict — or why one is missing."""

    main: DispatchResult
    status: Status
    second_model: str | None = None
    second: ChatResponse | None = None
    verdict: Verdict | None = None
    detail: str = ""


class VerdictError(CortexError):
    """The judge's answer is not the JSON verdict that was asked for."""


def parse_verdict(text: str, judge: str) -> Verdict:
    """The verdict in the judge's answer; raises `VerdictError` when it is not one.

    >>> parse_verdict('{"agree": false, "differences": ["x"], "summary": "s"}', "haiku").agree
    False
    """
    try:
        data = json_object(text)
    except NotAJsonObject as error:
        raise VerdictError(f"the judge's answer is {error}") from None
    agree, differences, summary = data.get("agree"), data.get("differences"), data.get("summary")
    if not isinstance(agree, bool):
        raise VerdictError("the judge's 'agree' is not true or false")
    if not isinstance(differences, list) or not all(isinstance(d, str) for d in differences):
        raise VerdictError("the judge's 'differences' is not a list of strings")
    if not isinstance(summary, str):
        raise VerdictError("the judge's 'summary' is not a string")
    return Verdict(agree, tuple(differences), summary, judge)


#: Whom to ask when the chain has no model from another provider.
_OTHER_SIDE = {"anthropic": "gpt-4o", "openai": "sonnet", "local": "sonnet"}


def second_model_for(
    task: str, chain: tuple[str, ...], table: RoutingTable, catalog: Catalog
) -> str | None:
    """The routing file's Cross-Validation model for `task`, else the first model of the
    chain from another provider than the chain's first, else the other provider's everyday
    model (gpt-4o for Claude, sonnet for OpenAI and local models)."""
    found = table.find_task(task)
    check = table.cross_validation.get(found) if found else None
    if check is not None:
        return check.model
    first = catalog.resolve(chain[0]) if chain else None
    if first is None:
        return None
    for name in chain[1:]:
        spec = catalog.resolve(name)
        if spec is not None and spec.family != first.family:
            return name
    # The chain stays with one provider: ask the other side's everyday model.
    other = _OTHER_SIDE.get(first.family)
    return other if other is not None and other in catalog else None


def judge_chain(table: RoutingTable) -> tuple[str, ...]:
    """The judge's models: the Classification / routing route (haiku in the seed)."""
    found = table.find_task(JUDGE_TASK)
    route = table.routes.get(found) if found else None
    return route.chain if route is not None else ("haiku",)


def _judge_request(request: ChatRequest, first: str, second: str) -> ChatRequest:
    asked = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
    prompt = (
        f"## The request\n{asked[:_EXCERPT]}\n\n## Answer A\n{first[:_EXCERPT]}\n\n"
        f"## Answer B\n{second[:_EXCERPT]}"
    )
    return ChatRequest(
        "judge",
        (ChatMessage.of("system", _JUDGE_SYSTEM), ChatMessage.of("user", prompt)),
        max_tokens=600,
        response_format=ResponseFormat("json_schema", VERDICT_SCHEMA, name="verdict"),
    )


async def cross_validate(
    dispatcher: Dispatcher,
    chain: tuple[str, ...],
    request: ChatRequest,
    *,
    task: str,
    request_id: str,
    second_model: str | None,
    judges: tuple[str, ...],
    deadline_s: float | None = None,
    no_second: str = "no model from another provider",
    catalog: Catalog | None = None,
) -> SecondOpinion:
    """The main answer with a second opinion and a verdict, both computed concurrently.

    One deadline covers all three calls: the second model and the judge get only what the
    main answer left, so a slow second opinion costs at most the request's deadline. Their
    attempts carry the request id with ``:second`` and ``:judge``. Without a second model
    only the main answer is given, with `no_second` as the reason. `catalog` is the one the
    call was planned with (`Dispatcher.complete`).
    """
    clock = dispatcher.clock
    ends = clock() + (deadline_s or dispatcher.settings.deadline_s)
    if second_model is None:
        main = await dispatcher.complete(
            chain,
            request,
            task=task,
            request_id=request_id,
            deadline_s=ends - clock(),
            catalog=catalog,
        )
        return SecondOpinion(main, "no-second-model", detail=no_second)
    second_task = asyncio.create_task(
        dispatcher.complete(
            (second_model,),
            request,
            task=task,
            request_id=f"{request_id}:second",
            deadline_s=ends - clock(),
            second_opinion=True,
            catalog=catalog,
        )
    )
    try:
        main = await dispatcher.complete(
            chain,
            request,
            task=task,
            request_id=request_id,
            deadline_s=ends - clock(),
            catalog=catalog,
        )
    except BaseException:
        second_task.cancel()
        with contextlib.suppress(BaseException):
            await second_task
        raise
    try:
        async with asyncio.timeout(max(0.0, ends - clock())):
            second = await second_task
    except TimeoutError:
        return SecondOpinion(main, "second-failed", second_model, detail="no answer in time")
    except CortexError as error:
        return SecondOpinion(main, "second-failed", second_model, detail=str(error))
    left = ends - clock()
    if left <= 0:
        detail = "no time left for the judge"
        return SecondOpinion(main, "judge-failed", second_model, second.response, detail=detail)
    judged = _judge_request(request, main.response.text, second.response.text)
    try:
        ruling = await dispatcher.complete(
            judges,
            judged,
            task=JUDGE_TASK,
            request_id=f"{request_id}:judge",
            deadline_s=left,
            second_opinion=True,
            catalog=catalog,
        )
        verdict = parse_verdict(ruling.response.text, ruling.dispatch.model or judges[0])
    except CortexError as error:
        return SecondOpinion(main, "judge-failed", second_model, second.response, detail=str(error))
    status: Status = "agree" if verdict.agree else "disagree"
    return SecondOpinion(main, status, second_model, second.response, verdict)

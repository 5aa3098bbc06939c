"""One request as a front-end hands it to the pipeline, whatever wire format it came in."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from cortexd.routing import RouteRequest
from cortexd.routing.providers import ChatRequest, Forward, Wire


def new_call_id() -> str:
    """A fresh call id: what the ledger, the answer and an error answer name a call by.

    Random, so that its first few digits name one call, as `cortex why 3f9a` expects (ids
    that began with the time, tried in issue 24 for the ledger's index locality, made every
    prefix of a minute's calls ambiguous).

    >>> first, second = new_call_id(), new_call_id()
    >>> len(first), first != second, int(first, 16) >= 0
    (24, True, True)
    """
    return secrets.token_hex(12)


@dataclass(frozen=True)
class Call:
    """A parsed request.

    `chat` is our request type (what dispatch sends, and what requirements, estimates and
    translation read); `route` the router's view, whose last user message is the person's
    own words. For the Messages and Responses front-ends `family` is the provider family
    whose models take the client's body as written (pass-through), `agent_model` the model
    the agent is configured with (kept in pass-through mode, ignored for ``auto`` or
    ``task:…``), and `reword` puts a version of the person's words (an override phrase
    removed) back into the client's body in place of the words given; `earlier` are the
    person's words of the session's earlier turns, oldest first, whose override phrases are
    removed the same way on every turn (so that cached prefixes stay equal). `id` is minted
    as the call is parsed, so that a call refused before dispatch has one too: its ledger
    row and its error carry it.
    """

    wire: Wire
    route: RouteRequest
    chat: ChatRequest
    stream: bool
    asked_model: str
    client: str | None = None
    project: str | None = None
    session: str | None = None
    turn: str | None = None
    second_opinion: bool = False
    family: str | None = None
    agent_model: str | None = None
    reword: Callable[[Forward, str, str, bool], Forward] | None = None
    earlier: tuple[str, ...] = ()
    # What translating the request for another wire's model leaves out (hosted tools, …):
    # said in the plan's reasons and on a translated answer, never dropped silently.
    losses: tuple[str, ...] = ()
    # What the front-end changed in the client's body before it goes through, and why.
    notes: tuple[str, ...] = ()
    id: str = field(default_factory=new_call_id)

"""One call's record, gathered while it runs and committed before its last byte is sent."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from cortexd.ledger import CallOutcome, CallRecord, SessionMove
from cortexd.pipeline.call import new_call_id
from cortexd.pipeline.family import family_of
from cortexd.pipeline.pins import Pin, pin_after, pin_key, session_move
from cortexd.routing import RoutePlan
from cortexd.routing.dispatch import Attempt, Dispatch, EmbedResult, SecondOpinion
from cortexd.routing.providers import ChatRequest, ChatResponse, Usage

if TYPE_CHECKING:
    from cortexd.bookkeeping.recent_outputs import RecentOutputs
    from cortexd.ledger import AttemptLog, Ledger
    from cortexd.pipeline.hedging import RecentTtfts
    from cortexd.pipeline.pins import SessionPins
    from cortexd.routing_generation import Routing


#: The outcomes of a try, and of a call, that mean its provider answered.
_ANSWERED = ("ok", "partial")


def client_name(given: str | None, user_agent: str | None) -> str | None:
    """Who called: the ``cortex.client`` the request names, else the User-Agent's product.

    >>> client_name(None, "curl/8.5.0"), client_name(None, "OpenAI/Python 3.57.0")
    ('curl', 'OpenAI/Python')
    >>> client_name("zed", "curl/8.5.0")
    'zed'
    """
    name = given or ""
    if not name and user_agent:
        name = user_agent.split()[0]
        name = re.sub(r"/v?\d[\w.+-]*$", "", name)
    return name.strip()[:64] or None


def _words_left_out(reason: str) -> str:
    # The classifier explains itself with words of the prompt ('summa…' (+0.3)); those are
    # the prompt's, so they are kept only where prompts are.
    kept = [part for part in reason.split(", ") if "'" not in part]
    return ", ".join(kept) if kept else "prompt features"


def stored_reasons(plan: RoutePlan, keep_prompt_words: bool) -> tuple[str, ...]:
    """The plan's reasons as the ledger keeps them."""
    c = plan.classification
    if keep_prompt_words or c is None or not c.reason:
        return plan.reasons
    private = _words_left_out(c.reason)
    return tuple(r.replace(c.reason, private) for r in plan.reasons)


def json_validity(request: ChatRequest, response: ChatResponse | None) -> tuple[bool, bool | None]:
    """Whether JSON was asked for, and whether the answer is that JSON (None: no text).

    With a schema the answer must also validate against it; a schema that is itself
    invalid is the client's problem, not the answer's, and only the parse counts.
    """
    wanted = request.response_format
    asked = wanted is not None and wanted.kind != "text"
    if not asked or response is None or not response.text:
        return asked, None
    try:
        value = json.loads(response.text)
    except ValueError:
        return True, False
    if wanted is not None and wanted.kind == "json_schema" and wanted.schema:
        # Imported here: jsonschema and its registry are 30 ms of every start otherwise.
        import jsonschema

        schema = dict(wanted.schema)
        try:
            validator = jsonschema.validators.validator_for(schema)
            validator.check_schema(schema)
        except jsonschema.SchemaError:
            return True, True
        return True, validator(schema).is_valid(value)
    return True, True


def tried_usage(attempts: Sequence[Attempt]) -> tuple[Usage, bool]:
    """The tokens of a call that has no whole answer: its answering tries' together (a
    stream cut short counts what it sent), and whether any of them was estimated."""
    tried = [a for a in attempts if a.role == "answer" and a.outcome != "skipped"]
    summed = {f.name: sum(getattr(a.usage, f.name) for a in tried) for f in fields(Usage)}
    return Usage(**summed), any(a.usage_estimated for a in tried)


def last_prompt(plan: RoutePlan) -> str | None:
    """The last user message as the router left it (an override phrase removed)."""
    return next((m.content for m in reversed(plan.messages) if m.role == "user"), None)


@dataclass(frozen=True)
class AgentCall:
    """What a coding agent's call adds to its record: the model the agent is configured
    with, the provider family whose wire it speaks, what translating it for another
    provider left out, and its session's pin and why the plan moves it (`pipeline/pins`)."""

    model: str | None
    family: str | None
    losses: tuple[str, ...] = ()
    pin: Pin | None = None
    move: str | None = None


class CallRecording:
    """A chat call being recorded: its attempts are gathered from dispatch's sink.

    `routing` is the generation the call took, which the whole call uses; its attempts come
    from `attempt_log`, and its record goes to `ledger`. An answered call tells
    `recent_outputs` its answer's size, `ttfts` how soon it came, and `pins` where an agent's
    session was answered. `session` and `turn` name the client's session and the user's
    turn in it, where the client says (a coding agent does); `agent` what a coding agent's
    call adds.
    """

    def __init__(
        self,
        call_id: str,
        plan: RoutePlan,
        request: ChatRequest,
        *,
        routing: Routing,
        attempt_log: AttemptLog,
        ledger: Ledger,
        recent_outputs: RecentOutputs,
        ttfts: RecentTtfts,
        pins: SessionPins,
        client: str | None,
        project: str | None,
        stream: bool,
        asked_model: str,
        session: str | None = None,
        turn: str | None = None,
        agent: AgentCall | None = None,
    ) -> None:
        self.routing = routing
        self._attempt_log = attempt_log
        self._ledger = ledger
        self._recent_outputs = recent_outputs
        self._ttfts = ttfts
        self._pins = pins
        self.agent = agent
        self.id = call_id
        self.plan = plan
        self.request = request
        self.client = client
        self.project = project
        self.session = session
        self.turn = turn
        self.stream = stream
        self.asked_model = asked_model
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self.first_token_s: float | None = None
        self.generation = routing.generation
        self.attempts = attempt_log.open(call_id)
        self.done = False

    def first_token(self) -> None:
        """The client got its first piece of content now."""
        if self.first_token_s is None:
            self.first_token_s = time.monotonic() - self._t0

    def build(
        self,
        outcome: CallOutcome,
        *,
        response: ChatResponse | None = None,
        dispatch: Dispatch | None = None,
        error: BaseException | None = None,
        second: SecondOpinion | None = None,
    ) -> CallRecord:
        """The record of the call as it ends now."""
        plan = self.plan
        keep = self._ledger.keep_prompts_days > 0
        override = None
        if plan.decided_by == "override" and plan.override is not None:
            override = plan.override.phrase
        elif plan.decided_by == "explicit-model":
            override = self.asked_model
        first = self.first_token_s
        if first is None and response is not None and not self.stream and dispatch is not None:
            answering = [a for a in self.attempts if a.outcome == "ok" and not a.second_opinion]
            if answering and answering[-1].first_token_s is not None:
                first = answering[-1].started_s + answering[-1].first_token_s
        requested, valid = json_validity(self.request, response)
        verdict = second.verdict if second is not None else None
        # No whole answer (a broken or abandoned stream): what its tries used, never a 0.
        usage, estimated = (
            (response.usage, False) if response is not None else tried_usage(self.attempts)
        )
        agent = self.agent
        losses, moved = self._translated(outcome) if agent is not None else ((), None)
        return CallRecord(
            id=self.id,
            started_at=self.started_at,
            task=plan.task,
            decided_by=plan.decided_by,
            outcome=outcome,
            attempts=tuple(self.attempts),
            client=self.client,
            project=self.project,
            session=self.session,
            turn=self.turn,
            agent_model=agent.model if agent is not None else None,
            losses=losses,
            moved=moved,
            override=override,
            routing_generation=self.generation,
            chain=plan.chain,
            reasons=stored_reasons(plan, keep),
            model=dispatch.model if dispatch is not None else None,
            provider=dispatch.provider if dispatch is not None else None,
            fallback=dispatch.fallback if dispatch is not None else False,
            local_only=plan.local_only,
            stream=self.stream,
            finish_reason=response.finish_reason if response is not None else None,
            usage=usage,
            usage_estimated=estimated,
            first_token_s=first,
            total_s=time.monotonic() - self._t0,
            error_class=type(error).__name__ if error is not None else None,
            error=str(error) if error is not None else None,
            json_requested=requested,
            json_valid=valid,
            second_opinion=second.status if second is not None else None,
            verdict_agree=verdict.agree if verdict is not None else None,
            prompt=last_prompt(plan),
            answer=response.text if response is not None and keep else None,
        )

    def _translated(self, outcome: CallOutcome) -> tuple[tuple[str, ...], SessionMove | None]:
        """An agent's call: what translation left out, where another provider answered it,
        and the session's move, where it made one."""
        agent = self.agent
        assert agent is not None
        answered = [a for a in self.attempts if a.role == "answer" and a.outcome in _ANSWERED]
        last = answered[-1] if answered and outcome in _ANSWERED else None
        if last is None:
            return (), None
        losses = agent.losses if last.provider != agent.family else ()
        catalog = self.routing.catalog
        head = self.plan.chain[0] if self.plan.chain else None
        planned = family_of(head, catalog) if head is not None else None
        spec = catalog.resolve(last.model)
        price = catalog.price(spec) if spec is not None else None
        return losses, session_move(agent.pin, agent.move, planned, last, self.attempts, price)

    async def commit(self, outcome: CallOutcome, **ended: Any) -> None:
        """Record the call and wait for its commit (at most once)."""
        if self.done:
            return
        self.done = True
        self._attempt_log.close(self.id)
        # The call's budget hold ends when the ledger commits this record (SpendTracker).
        record = self.build(outcome, **ended)
        if outcome == "ok":
            # What this client's answers use, for the next call's budget reservation.
            self._recent_outputs.observe(self.client, record.usage.output_tokens)
            # How soon the model that answered did, for when a late one is hedged.
            answered = [a for a in record.attempts if a.outcome == "ok" and not a.second_opinion]
            if answered:
                last = answered[-1]
                self._ttfts.observe(last.model, record.task, last.first_token_s)
        self._pin(record)
        await self._ledger.record(record)

    def _pin(self, record: CallRecord) -> None:
        # Pinned before the commit: the agent's next call may come the moment it is read.
        agent = self.agent
        key = pin_key(self.client, self.session, agent.model) if agent is not None else None
        pin = pin_after(record) if key is not None else None
        if key is not None and pin is not None:
            self._pins.set(key, pin)

    def abandon(self, error: BaseException | None = None) -> None:
        """The client left, or a bug (`error`) ended the call: queue its record, no wait."""
        if self.done:
            return
        self.done = True
        self._attempt_log.close(self.id)
        outcome: CallOutcome = "cancelled" if error is None else "error"
        self._ledger.submit(self.build(outcome, error=error))


class EmbeddingCall:
    """An embeddings call being recorded: its attempts are gathered from dispatch's sink
    (`attempt_log`), and its record, of the routing generation the call took (`routing`),
    goes to `ledger`."""

    def __init__(
        self,
        names: tuple[str, ...],
        explicit: bool,
        user_agent: str | None,
        *,
        routing: Routing,
        attempt_log: AttemptLog,
        ledger: Ledger,
    ) -> None:
        self._generation = routing.generation
        self._attempt_log = attempt_log
        self._ledger = ledger
        self.id = new_call_id()
        self.names = names
        self.explicit = explicit
        self.client = client_name(None, user_agent)
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self.attempts = attempt_log.open(self.id)
        self.done = False

    def build(
        self, result: EmbedResult | None = None, error: BaseException | None = None
    ) -> CallRecord:
        """The record of the call as it ends now: answered with `result`, or ended by `error`."""
        dispatch = result.dispatch if result is not None else None
        outcome: CallOutcome = "ok" if result is not None else "error"
        if result is None and error is None:
            outcome = "cancelled"
        return CallRecord(
            id=self.id,
            started_at=self.started_at,
            task="Embeddings",
            decided_by="explicit-model" if self.explicit else "task-given",
            outcome=outcome,
            kind="embeddings",
            attempts=tuple(self.attempts),
            client=self.client,
            routing_generation=self._generation,
            chain=self.names,
            model=dispatch.model if dispatch is not None else None,
            provider=dispatch.provider if dispatch is not None else None,
            fallback=dispatch.fallback if dispatch is not None else False,
            usage=result.response.usage if result is not None else Usage(),
            total_s=time.monotonic() - self._t0,
            error_class=type(error).__name__ if error is not None else None,
            error=str(error) if error is not None else None,
        )

    async def commit(
        self, result: EmbedResult | None = None, *, error: BaseException | None = None
    ) -> None:
        """Record the call, answered with `result` or ended by `error`, and wait for its
        commit (at most once)."""
        if self.done:
            return
        self.done = True
        self._attempt_log.close(self.id)
        await self._ledger.record(self.build(result, error))

    def abandon(self, error: BaseException | None = None) -> None:
        """The client left, or a bug (`error`) ended the call: queue its record, no wait."""
        if self.done:
            return
        self.done = True
        self._attempt_log.close(self.id)
        self._ledger.submit(self.build(error=error))

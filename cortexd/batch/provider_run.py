"""A batch's lines through the providers' Batch APIs: submitted, polled, collected.

`ProviderPhase.submit` takes the lines the providers' Batch APIs may answer (all of them
with ``--provider-batch``, else those of a task whose Routing Table row says ``Batch API:
yes``), groups them per provider and endpoint, cuts each group within the provider's limits,
and submits each part, journalled before and after (provider_journal.py). `collect` polls
every open submission until it ends, answers each line from its result, and hands back the
lines to send the normal way: those no batch could take, and, when the user allows it, those
a batch did not answer (errored, expired, canceled). After a restart `collect` takes up the
journal's open submissions, finding by its key any that was being submitted at the stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from cortexd.batch import journal, provider_journal
from cortexd.batch.provider_lines import Prepared, answer, line_call, prepare
from cortexd.pipeline.plan import Planned, Refused, plan_call
from cortexd.routing.providers import (
    BatchApi,
    BatchRequest,
    BatchResult,
    OffersBatches,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
    split,
)

if TYPE_CHECKING:
    from cortexd.services import Services

log = logging.getLogger("cortexd.batch")

#: Lines prepared between two turns of the event loop.
PREPARE_SLICE = 25
#: How often a cancelled submission is polled until the provider has ended it.
CANCEL_POLL_S = 1.0
#: A create that failed so may have made its batch all the same: it is looked for by its
#: key before its lines go anywhere else. Any other failure (a status) made nothing.
_UNCERTAIN = (ProviderConnectionError, ProviderTimeoutError, StreamInterruptedError)


class ProviderPhase:
    """One cortexd batch's submissions. `everything`: every line the Batch APIs can take
    goes to them (``--provider-batch``), else only those whose task's row asks for it;
    `retry_failed`: a line a provider's batch did not answer is sent the normal way."""

    def __init__(
        self,
        batch_id: str,
        services: Services,
        app: Any,
        *,
        everything: bool,
        retry_failed: bool,
        poll_s: float,
    ) -> None:
        self.batch_id = batch_id
        self._services = services
        self._app = app
        self._everything = everything
        self._retry_failed = retry_failed
        self._poll_s = poll_s
        #: Called as each line is answered (the run then writes the output on).
        self.answered: Callable[[], None] = lambda: None
        self._apis: dict[str, BatchApi] = {}
        self._stopped = asyncio.Event()
        self._cancelled = False

    async def submit(self, todo: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        """Submit the lines of `todo` a Batch API takes; the rest, to send the normal way."""
        ledger = self._services.ledger
        fresh = set(await ledger.read(_never_sent, self.batch_id))
        rest: list[tuple[int, str, str]] = []
        groups: dict[tuple[str, str], list[Prepared]] = {}
        for n, (seq, url, raw) in enumerate(todo):
            if n % PREPARE_SLICE == 0:
                await asyncio.sleep(0)  # a long batch's planning never holds the loop
            found = None
            if seq in fresh and not url.endswith("/embeddings"):
                found = await prepare(
                    self._services, self._app, self._apis, seq, url, json.loads(raw)
                )
            if found is None or not self._wanted(found):
                rest.append((seq, url, raw))
                continue
            groups.setdefault((found.spec.provider.value, found.url), []).append(found)
        by_seq = {line[0]: line for line in todo}
        for (provider, url), lines in groups.items():
            api = self._apis[provider]
            models = {p.seq: p.spec.name for p in lines}
            requests = [BatchRequest(str(p.seq), url, p.body) for p in lines]
            for part in split(requests, api.limits):
                chosen = [(int(r.custom_id), models[int(r.custom_id)], r.body) for r in part]
                back = await self._submit(api, url, chosen)
                rest += [by_seq[seq] for seq in back]
        rest.sort()
        return rest

    def _wanted(self, line: Prepared) -> bool:
        if self._everything:
            return True
        table = self._services.routing.table
        found = table.find_task(line.planned.plan.task)
        route = table.routes.get(found) if found else None
        return bool(route is not None and route.provider_batch)

    async def _submit(
        self, api: BatchApi, url: str, lines: list[tuple[int, str, dict[str, Any]]]
    ) -> list[int]:
        """One submission; the lines it could not take (to send the normal way)."""
        ledger = self._services.ledger
        key = "cx" + secrets.token_hex(8)
        models = [(seq, model) for seq, model, _ in lines]
        await ledger.write(
            partial(
                provider_journal.begin,
                key=key,
                batch_id=self.batch_id,
                provider=api.provider,
                url=url,
                models=models,
            )
        )
        requests = [BatchRequest(f"{key}-{seq}", url, body) for seq, _, body in lines]
        try:
            remote = await api.create(key, requests)
        except ProviderError as error:
            if not isinstance(error, _UNCERTAIN):
                return await self._failed(key, f"{api.provider} refused the batch: {error}")
            # The answer was lost, not necessarily the batch: it is looked for at the next poll.
            log.warning(
                "batch %s: submitting %s to %s: %s", self.batch_id, key, api.provider, error
            )
            return []
        await ledger.write(
            partial(provider_journal.submitted, key=key, remote_id=remote.id, status=remote.status)
        )
        log.info(
            "batch %s: %d lines submitted to %s's Batch API as %s",
            self.batch_id,
            len(requests),
            api.provider,
            remote.id,
        )
        return []

    async def _failed(self, key: str, why: str) -> list[int]:
        log.warning("batch %s: %s; its lines go the normal way", self.batch_id, why)
        lines = await self._services.ledger.read(provider_journal.lines_of, self.batch_id, key)
        await self._services.ledger.write(
            partial(provider_journal.failed, batch_id=self.batch_id, key=key, why=why)
        )
        return [seq for seq, _, _ in lines]

    def cancel(self) -> None:
        """Ask the providers to cancel what is pending: what they did is answered, the rest
        reported cancelled (a budget's stop does not come here: what was submitted is paid
        for, and is collected)."""
        self._cancelled = True
        self._stopped.set()

    async def collect(self) -> list[int]:
        """Poll until every open submission is collected; the lines to send the normal way."""
        ledger = self._services.ledger
        back: list[int] = []
        cancels_sent: set[str] = set()
        while True:
            open_now = await ledger.read(provider_journal.open_submissions, self.batch_id)
            if not open_now:
                return back
            for sub in open_now:
                api = self._api(sub.provider)
                if api is None:
                    back += await self._failed(sub.key, f"{sub.provider} has no key now")
                    continue
                try:
                    if sub.state == provider_journal.SUBMITTING:
                        back += await self._adopt(api, sub)
                        continue
                    assert sub.remote_id is not None
                    if self._cancelled and sub.remote_id not in cancels_sent:
                        cancels_sent.add(sub.remote_id)
                        await api.cancel(sub.remote_id)
                    remote = await api.retrieve(sub.remote_id)
                    await ledger.write(
                        partial(provider_journal.polled, key=sub.key, status=remote.status)
                    )
                    if remote.ended:
                        back += await self._collect(api, sub, remote.id, remote.status)
                except ProviderError as error:
                    log.warning(
                        "batch %s: polling %s: %s", self.batch_id, sub.remote_id or sub.key, error
                    )
            if self._cancelled:
                await asyncio.sleep(min(self._poll_s, CANCEL_POLL_S))  # until they end
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), self._poll_s)

    def _api(self, provider: str) -> BatchApi | None:
        api = self._apis.get(provider)
        if api is not None:
            return api
        from cortexd.routing import Provider

        wanted = Provider(provider)
        catalog = self._services.routing.catalog
        spec = next(
            (s for s in catalog if s.provider is wanted and not s.local and s.base_url is None),
            None,
        )
        built = self._services.registry(spec) if spec is not None else None
        if not isinstance(built, OffersBatches):
            return None
        try:
            api = self._apis[provider] = built.batch_api()
        except ProviderError:
            return None
        return api

    async def _adopt(self, api: BatchApi, sub: provider_journal.Submission) -> list[int]:
        """A submission whose create had no answer (a crash, a cut connection): the batch
        the provider made of it, if any, is taken up; else its lines go the normal way."""
        ledger = self._services.ledger
        known = await ledger.read(provider_journal.known_remote_ids, sub.provider)
        found = await api.find(sub.key, sub.created_at, sub.requests, known)
        if found is None:
            return await self._failed(sub.key, f"{sub.provider} has no batch {sub.key}: never made")
        log.info(
            "batch %s: found %s at %s, made before the stop", self.batch_id, found.id, sub.provider
        )
        await ledger.write(
            partial(
                provider_journal.submitted, key=sub.key, remote_id=found.id, status=found.status
            )
        )
        return []

    async def _collect(
        self, api: BatchApi, sub: provider_journal.Submission, remote_id: str, status: str
    ) -> list[int]:
        """Answer the submission's lines from its results; those to send the normal way."""
        ledger = self._services.ledger
        results = await api.results(remote_id)
        prefix = f"{sub.key}-"
        ours = {r.custom_id: r for r in results if r.custom_id.startswith(prefix)}
        if results and not ours:
            # Not ours after all (a batch found by its size alone): nothing of it is used.
            return await self._failed(sub.key, f"{remote_id} holds another's requests")
        back: list[int] = []
        submitted_at = sub.submitted_at or sub.created_at
        for seq, url, raw in await ledger.read(provider_journal.lines_of, self.batch_id, sub.key):
            result = ours.get(f"{prefix}{seq}") or _missing(f"{prefix}{seq}", status)
            if result.kind != "succeeded" and self._retry_failed and not self._cancelled:
                back.append(seq)
                continue
            line = await self._line(seq, url, json.loads(raw), sub)
            done = await answer(self._services, line, api, result, remote_id, submitted_at)
            kept = journal.Answer(seq, done.status, done.body, done.call_id)
            await ledger.write(partial(journal.record, items=[(self.batch_id, kept)]))
            self.answered()
        if back:
            await ledger.write(
                partial(provider_journal.back_to_normal, batch_id=self.batch_id, seqs=back)
            )
        await ledger.write(partial(provider_journal.collected, key=sub.key, status=status))
        log.info("batch %s: %s collected (%s)", self.batch_id, remote_id, status)
        return back

    async def _line(
        self, seq: int, url: str, body: dict[str, Any], sub: provider_journal.Submission
    ) -> Prepared:
        """The line as it was submitted: planned again (after a restart nothing of it is in
        memory), with the model the journal says it was sent to."""
        services = self._services
        routing = services.routing  # one generation for the whole line
        call = line_call(self._app, url, body)
        try:
            planned = await plan_call(services, routing, call)
        except Refused as refused:  # a budget reached since: the answer is in all the same
            planned = Planned(refused.plan, call.chat, call.chat)
        model = await services.ledger.read(_model_of, self.batch_id, seq)
        spec = routing.catalog.resolve(model) if model else None
        if spec is None:
            spec = routing.catalog.resolve(planned.plan.chain[0])
        assert spec is not None
        return Prepared(seq, url, call, planned, spec, sub.url, {}, ())


def _missing(custom_id: str, status: str) -> BatchResult:
    """The result of a request its batch holds no result for: it ended first."""
    if status in ("expired",):
        return BatchResult(custom_id, "expired", error="the batch expired before it was answered")
    if status.startswith("cancel") or status == "canceling":
        return BatchResult(custom_id, "canceled", error="the batch was cancelled first")
    return BatchResult(custom_id, "errored", error=f"the batch ended ({status}) with no result")


def _never_sent(db: Any, batch_id: str) -> list[int]:
    rows = db.execute(
        "SELECT seq FROM batch_lines WHERE batch_id = ? AND state = ? AND sends = 0",
        (batch_id, journal.PENDING),
    )
    return [seq for (seq,) in rows]


def _model_of(db: Any, batch_id: str, seq: int) -> str | None:
    row = db.execute(
        "SELECT model FROM batch_lines WHERE batch_id = ? AND seq = ?", (batch_id, seq)
    ).fetchone()
    return row[0] if row else None

"""The daemon's batches: started from the API, run in the background, resumed after a restart.

A batch outlives the terminal that started it: the CLI only asks (``POST /v1/cortex/batches``)
and then follows its progress. Each batch's lines go through the daemon's own endpoints in
process, over an ASGI transport, as capture's calls do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cortexd.batch import journal
from cortexd.batch.asgi_call import AppCall
from cortexd.batch.coding_queue import CodingQueue
from cortexd.batch.estimate import BATCH_CLIENT, Estimate, LinePlan, estimate, provider_of
from cortexd.batch.limits import ProviderLimits
from cortexd.batch.lines import BatchLine, parse_lines
from cortexd.batch.provider_run import ProviderPhase
from cortexd.batch.runner import BatchRun
from cortexd.bookkeeping.notices import Notice, Notifier
from cortexd.errors import CortexError

if TYPE_CHECKING:
    from cortexd.services import Services

log = logging.getLogger("cortexd.batch")

#: A line waits this long for its whole answer (dispatch has its own deadline within it).
LINE_TIMEOUT_S = 900.0
#: Sends at once to a local model, which answers one request at a time anyway.
LOCAL_CONCURRENCY = 2
#: How long a cancel waits for the lines in flight before it answers.
CANCEL_WAIT_S = 5.0
#: Lines planned between two turns of the event loop, for an estimate.
ESTIMATE_SLICE = 50
#: The largest input file taken (its lines are kept in the journal).
MAX_INPUT_BYTES = 1024**3


class BatchInputError(CortexError, ValueError):
    """The input file cannot be read as a batch (missing, too big, not text, empty)."""


#: How often a provider's batch is asked whether it has ended, unless the batch says.
POLL_S = 60.0


@dataclass(frozen=True)
class Options:
    """How a batch runs: sends at once per cloud provider, and to local models; whether
    every line a provider's Batch API can take goes there (`provider_batch`; else only
    those whose task's row asks for it), whether a line such a batch did not answer is sent
    again the normal way (`retry_failed`), and how often those batches are polled."""

    concurrency: int
    local_concurrency: int = LOCAL_CONCURRENCY
    provider_batch: bool = False
    retry_failed: bool = False
    poll_s: float = POLL_S

    def as_json(self) -> dict[str, Any]:
        """As the journal keeps them."""
        return {
            "concurrency": self.concurrency,
            "local_concurrency": self.local_concurrency,
            "provider_batch": self.provider_batch,
            "retry_failed": self.retry_failed,
            "poll_s": self.poll_s,
        }

    @classmethod
    def from_json(cls, given: dict[str, Any], concurrency: int) -> Options:
        """As a resumed batch's journal has them (older batches lack the later ones)."""
        return cls(
            int(given.get("concurrency") or concurrency),
            int(given.get("local_concurrency") or LOCAL_CONCURRENCY),
            bool(given.get("provider_batch")),
            bool(given.get("retry_failed")),
            float(given.get("poll_s") or POLL_S),
        )


def read_input(path: Path, max_line_bytes: int) -> list[BatchLine]:
    """The lines of a batch file; raises `BatchInputError` when there is no batch to run."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise BatchInputError(f"{path}: {size} bytes; at most {MAX_INPUT_BYTES} are taken")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchInputError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        where = f"{error.reason} at byte {error.start}"
        raise BatchInputError(f"{path}: not UTF-8 text ({where})") from None
    except OSError as error:
        raise BatchInputError(f"{path}: {error.strerror or error}") from None
    lines = parse_lines(text.splitlines(), max_line_bytes)
    if not lines:
        raise BatchInputError(f"{path}: no lines to run")
    return lines


class Batches:
    """Every batch of one daemon: `start`, `resume`, `cancel`, and their `summary`."""

    def __init__(
        self,
        app: Any,
        services: Services,
        queue_folder: Path | None = None,
        notices: Notifier | None = None,
    ) -> None:
        self._services = services
        self._asgi = app
        self._notices = notices
        self._app = AppCall(app, f"{BATCH_CLIENT}/1")
        self._runs: dict[str, tuple[BatchRun, asyncio.Task[str]]] = {}
        #: The queue of coding tasks, sent through the same in-process client.
        self.queue = CodingQueue(queue_folder, self._send) if queue_folder else None

    def default_concurrency(self) -> int:
        """Sends at once per cloud provider when the batch does not say: half of what the
        daemon takes in flight, so the person's own calls still get through."""
        return max(1, self._services.limits.max_in_flight // 2)

    def most_concurrency(self) -> int:
        """The most a batch may ask for: a few places are always left for other clients."""
        return max(1, self._services.limits.max_in_flight - 4)

    async def read(self, path: Path) -> list[BatchLine]:
        """The lines of `path` (read in a thread)."""
        return await asyncio.to_thread(read_input, path, self._services.limits.max_body_bytes)

    async def estimate(self, path: Path, provider_batch: bool = False) -> Estimate:
        """The estimate of a batch's cost (at the Batch APIs' prices with `provider_batch`),
        planned a slice at a time: a long batch's classification never holds the event loop
        for long."""
        lines = await self.read(path)
        local = self._services.local.active_models
        parts = []
        for at in range(0, len(lines), ESTIMATE_SLICE):
            part = lines[at : at + ESTIMATE_SLICE]
            parts.append(estimate(self._services.routing, local, part, provider_batch))
            await asyncio.sleep(0)
        return Estimate.combined(parts)

    async def start(self, source: Path, output: Path, options: Options) -> str:
        """Journal a new batch and start it; its id."""
        lines = await self.read(source)
        batch_id = "batch_" + secrets.token_hex(8)
        kept = options.as_json()
        await self._services.ledger.write(
            lambda db: journal.create(db, batch_id, str(source), str(output), lines, kept)
        )
        self._launch(batch_id, output, options)
        return batch_id

    async def resume(self) -> list[str]:
        """Start again every batch a stopped daemon left running; their ids."""
        ids = await self._services.ledger.read(journal.running)
        for batch_id in ids:
            head = await self._services.ledger.read(journal.summary, batch_id)
            if head is None:
                continue
            options = Options.from_json(head["options"], self.default_concurrency())
            log.info(
                "resuming batch %s (%d of %d lines written)",
                batch_id,
                head["written"],
                head["total"],
            )
            self._launch(batch_id, Path(head["output"]), options)
        return ids

    def _launch(self, batch_id: str, output: Path, options: Options) -> None:
        limits = ProviderLimits(options.concurrency, options.local_concurrency)
        phase = None
        table = self._services.routing.table
        if options.provider_batch or any(r.provider_batch for r in table.routes.values()):
            phase = ProviderPhase(
                batch_id,
                self._services,
                self._asgi,
                everything=options.provider_batch,
                retry_failed=options.retry_failed,
                poll_s=options.poll_s,
            )
        run = BatchRun(
            batch_id, output, self._services.ledger, self._send, limits, self._plan, phase
        )
        if phase is not None:
            phase.answered = run.wrote
        task = asyncio.create_task(self._run(run))
        self._runs[batch_id] = (run, task)

    async def _run(self, run: BatchRun) -> str:
        try:
            state = await run.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one batch's bug must not take the daemon down
            log.exception("batch %s failed; it resumes at the next start", run.batch_id)
            return "error"
        finally:
            self._runs.pop(run.batch_id, None)
        head = await self._services.ledger.read(journal.summary, run.batch_id)
        if head is not None:
            said = (
                f"batch {run.batch_id} {state}: {head['done']} answered, {head['failed']} "
                f"failed, ${head['cost_usd']:.4f}"
            )
            log.info("%s", said)
            if run.phase is not None and self._notices is not None and head["provider_batches"]:
                # A provider's batch may take hours: the person is told when it is in.
                body = f"{said}; results in {head['output']}"
                await self._notices.notify(Notice("cortexd: batch finished", body, kind="batch"))
        return state

    def _plan(self, url: str, body: dict[str, Any]) -> LinePlan:
        services = self._services
        return provider_of(services.routing, services.local.active_models, url, body)

    async def _send(self, url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        try:
            async with asyncio.timeout(LINE_TIMEOUT_S):
                return await self._app.post(url, body)
        except TimeoutError:
            message = f"no answer in {LINE_TIMEOUT_S:.0f} s"
            return 504, {}, {"error": {"code": "batch_line_timeout", "message": message}}

    async def summary(self, batch_id: str) -> dict[str, Any] | None:
        """A batch's state and counts; None when there is no such batch."""
        return await self._services.ledger.read(journal.summary, batch_id)

    async def listing(self) -> list[dict[str, Any]]:
        """The latest batches."""
        return await self._services.ledger.read(journal.listing)

    async def cancel(self, batch_id: str) -> bool:
        """Stop a running batch: no more lines are sent, those in flight are answered, the
        rest are reported as not sent. False when it is not running."""
        running = self._runs.get(batch_id)
        if running is not None:
            running[0].stop(journal.CANCELLED, "cancelled before it was answered")
            # The lines in flight finish; the answer waits a little for them, not for ever.
            with contextlib.suppress(Exception):
                await asyncio.wait({running[1]}, timeout=CANCEL_WAIT_S)
            return True
        return await self._services.ledger.write(lambda db: journal.cancel(db, batch_id))

    async def aclose(self) -> None:
        """Stop running (the journal keeps every batch where it was) and close."""
        for _, task in list(self._runs.values()):
            task.cancel()
        for _, task in list(self._runs.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

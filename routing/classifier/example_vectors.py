"""The similarity step on the request path: example vectors embedded once, prompts on demand.

The embedder is injected (the daemon wires the local nomic-embed-text; tests a stand-in).
Example vectors are computed in the background, once per embedder and examples version, and
kept in memory; until they are ready, and whenever embedding the prompt fails or takes longer
than `PROMPT_TIMEOUT_S`, there are no scores and the classifier decides as it does without
an embedder. Classification never waits for the examples and never stalls a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from cortexd.routing.classifier.examples import TaskExamples
from cortexd.routing.classifier.similarity import Vector, task_scores, unit

log = logging.getLogger("cortexd.routing.similarity")

#: Texts in, one vector per text out (any length, any scale: vectors are normalised here).
Embedder = Callable[[Sequence[str]], Awaitable[Sequence[Sequence[float]]]]

#: Embedding one prompt may take this long before classification goes on without it: a local
#: nomic-embed-text answers a short prompt in tens of milliseconds, on a CPU too.
PROMPT_TIMEOUT_S = 0.3
#: Examples are embedded this many per call, each call under `BATCH_TIMEOUT_S`.
BATCH = 32
BATCH_TIMEOUT_S = 60.0
#: After a failed build, the examples are embedded again no sooner than this.
RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class _Index:
    version: str
    dims: int
    vectors: Mapping[str, tuple[Vector, ...]]  # by task type
    by_text: Mapping[str, Vector]  # reused by the next version's build


class TaskSimilarity:
    """Example vectors per embedder (by a key naming the model), and the prompts' scores.

    `stats` counts what happened: prompts scored, and each reason for going without scores
    (``not-ready``, ``timeout``, ``error``), plus the examples embedded.
    """

    def __init__(
        self,
        *,
        timeout_s: float = PROMPT_TIMEOUT_S,
        batch: int = BATCH,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout_s
        self._batch = batch
        self._retry_after = retry_after_s
        self._clock = clock
        self._indexes: dict[str, _Index] = {}
        self._builds: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._failed: dict[tuple[str, str], float] = {}
        self.stats: Counter[str] = Counter()

    async def scores(
        self, embedder: Embedder, key: str, examples: TaskExamples, text: str
    ) -> dict[str, float] | None:
        """Each task type's similarity to `text`, or None: classify without it.

        Starts embedding the examples in the background when they are not ready yet.
        """
        index = self._ready(embedder, key, examples)
        if index is None:
            self.stats["not-ready"] += 1
            return None
        if not text.strip():
            return None
        try:
            async with asyncio.timeout(self._timeout):
                vectors = await embedder([text])
        except TimeoutError:
            self.stats["timeout"] += 1
            log.debug("embedding the prompt took over %.1f s: classified without it", self._timeout)
            return None
        except Exception as error:  # noqa: BLE001 - any failure means: classify without it
            self.stats["error"] += 1
            log.debug("embedding the prompt failed (%s): classified without it", error)
            return None
        if len(vectors) != 1 or len(vectors[0]) != index.dims:
            self.stats["error"] += 1
            return None
        # 156 dot products of 768 dimensions are milliseconds of pure Python: off the loop.
        found = await asyncio.to_thread(task_scores, unit(vectors[0]), index.vectors)
        self.stats["scored"] += 1
        return found

    async def warm(self, embedder: Embedder, key: str, examples: TaskExamples) -> bool:
        """Embed the examples now (if they are not) and wait; whether they are ready."""
        if self._ready(embedder, key, examples) is None:
            build = self._builds.get((key, examples.version))
            if build is not None:
                await asyncio.shield(build)
        return self._ready(embedder, key, examples, start=False) is not None

    def _ready(
        self, embedder: Embedder, key: str, examples: TaskExamples, *, start: bool = True
    ) -> _Index | None:
        index = self._indexes.get(key)
        if index is not None and index.version == examples.version:
            return index
        job = (key, examples.version)
        failed = self._failed.get(job)
        if not start or job in self._builds or len(examples) == 0:
            return None
        if failed is not None and self._clock() - failed < self._retry_after:
            return None
        build = asyncio.create_task(self._build(embedder, key, examples))
        self._builds[job] = build  # held here: the loop keeps only weak references to tasks
        build.add_done_callback(lambda _: self._builds.pop(job, None))
        return None

    async def _build(self, embedder: Embedder, key: str, examples: TaskExamples) -> None:
        old = self._indexes.get(key)
        known = dict(old.by_text) if old is not None else {}
        texts = list(dict.fromkeys(t for ts in examples.by_task.values() for t in ts))
        missing = [t for t in texts if t not in known]
        began = self._clock()
        try:
            for start in range(0, len(missing), self._batch):
                chunk = missing[start : start + self._batch]
                async with asyncio.timeout(BATCH_TIMEOUT_S):
                    vectors = await embedder(chunk)
                if len(vectors) != len(chunk):
                    raise ValueError(f"{len(vectors)} vectors for {len(chunk)} texts")
                known.update(zip(chunk, (unit(v) for v in vectors), strict=True))
            dims = {len(known[t]) for t in texts}
            if len(dims) != 1:
                raise ValueError(f"vectors of several lengths: {sorted(dims)}")
        except Exception as error:  # noqa: BLE001 - the classifier goes on without examples
            self._failed[(key, examples.version)] = self._clock()
            log.warning("task examples not embedded with %s, retried later: %s", key, error)
            return
        self.stats["examples-embedded"] += len(missing)
        by_task = {task: tuple(known[t] for t in ts) for task, ts in examples.by_task.items()}
        by_text = {t: known[t] for t in texts}
        self._indexes[key] = _Index(examples.version, dims.pop(), by_task, by_text)
        log.info(
            "%d task examples embedded with %s in %.1f s (%d new)",
            len(texts), key, self._clock() - began, len(missing),
        )  # fmt: skip

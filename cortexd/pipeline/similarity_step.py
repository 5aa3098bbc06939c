"""The daemon's similarity step before planning: the prompt scored against task examples.

Runs only when the route hangs on classification (no model named, no task type given, no
override) and the Local Models row "Embeddings" is active: its model (nomic-embed-text)
embeds the prompt with nomic's ``classification: `` prefix, straight through the provider.
These embeddings are part of routing, like the classifier itself: they are not recorded in
the ledger as calls (a row per chat call would double the call counts and skew every
per-model statistic, and a local embedding costs nothing); `TaskSimilarity.stats` counts
them. The examples are the shipped ones plus the user's ``task-examples.md`` next to the
routing file, read again with each generation of the routing file (start, reload) and
after each save of that file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cortexd.routing import (
    TASK_EXAMPLES_FILE,
    Embedder,
    InputType,
    RouteRequest,
    TaskExamples,
    TaskExamplesError,
    TaskSimilarity,
    load_task_examples,
    prompt_text,
    shipped_task_examples,
    wants_prefixes,
    with_prefixes,
)
from cortexd.routing.providers import EmbedRequest

if TYPE_CHECKING:
    from cortexd.routing.providers import ProviderRegistry
    from cortexd.routing_generation import Routing

log = logging.getLogger("cortexd.similarity")

#: A whole batch of examples may take this long on a CPU.
_EMBED_TIMEOUT_S = 60.0


class SimilarityStep:
    """Example vectors (cached across requests) and the examples of each routing generation.

    `registry` builds the embedding model's provider; the user's examples are read beside
    `routing_path`."""

    def __init__(
        self,
        registry: ProviderRegistry,
        routing_path: Path,
        index: TaskSimilarity | None = None,
    ) -> None:
        self.index = index or TaskSimilarity()
        self._registry = registry
        self._routing_path = routing_path
        self._examples: tuple[int, asyncio.Task[TaskExamples]] | None = None
        self._preparing: asyncio.Task[bool] | None = None

    def prepare(self, routing: Routing, active_models: frozenset[str]) -> None:
        """Embed the examples in the background as soon as the local embedder is active
        (after each hardware probe), so the first classified prompt finds them ready."""
        found = local_embedder(self._registry, routing, active_models)
        if found is None or (self._preparing is not None and not self._preparing.done()):
            return
        key, embedder = found

        async def build() -> bool:
            examples = await self._examples_of(routing)
            return await self.index.warm(embedder, key, examples)

        self._preparing = asyncio.create_task(build())

    async def scores(
        self, routing: Routing, active_models: frozenset[str], route: RouteRequest
    ) -> dict[str, float] | None:
        """Task type → similarity of the request's prompt to its examples, or None when the
        step does not apply or cannot answer in time (the classifier then decides alone)."""
        # The embedder first: most machines have none, and then the prompt is not read twice
        # for an override (the router looks for one anyway).
        found = local_embedder(self._registry, routing, active_models)
        if found is None or not routing.router.routes_by_class(route):
            return None
        key, embedder = found
        examples = await self._examples_of(routing)
        return await self.index.scores(embedder, key, examples, prompt_text(route.messages))

    def forget_examples(self) -> None:
        """Read the examples again at the next classification (the user's file was saved)."""
        self._examples = None

    async def _examples_of(self, routing: Routing) -> TaskExamples:
        if self._examples is None or self._examples[0] != routing.generation:
            user_file = self._routing_path.parent / TASK_EXAMPLES_FILE
            tasks = routing.table.task_types()
            load = asyncio.to_thread(_read_examples, tasks, user_file)
            self._examples = (routing.generation, asyncio.ensure_future(load))
        return await asyncio.shield(self._examples[1])


def _read_examples(task_types: Sequence[str], user_file: Path) -> TaskExamples:
    try:
        return load_task_examples(task_types, user_file)
    except (TaskExamplesError, OSError, UnicodeDecodeError) as error:
        # A bad edit must not stop classification: the shipped examples serve meanwhile.
        log.error("%s not used, the shipped task examples serve: %s", user_file, error)
        return shipped_task_examples(task_types)


def local_embedder(
    registry: ProviderRegistry, routing: Routing, active_models: frozenset[str]
) -> tuple[str, Embedder] | None:
    """The active local embedding model (the "Embeddings" row) as an embedder, with a key
    that names it; None when the row is missing or not in `active_models`."""
    task = routing.table.find_task("Embeddings")
    row = routing.table.local.get(task) if task else None
    if row is None or row.model not in active_models:
        return None
    spec = routing.catalog.resolve(row.model)
    if spec is None:
        return None
    if not registry.built(spec):
        # Its SDK loads off the loop; classification goes on without it until it has.
        asyncio.ensure_future(registry.ready([spec]))
        return None
    provider = registry(spec)
    prefixed = wants_prefixes(spec.name, spec.model_id)

    async def embed(texts: Sequence[str]) -> Sequence[Sequence[float]]:
        inputs = tuple(texts)
        if prefixed:
            inputs = with_prefixes(inputs, InputType.CLASSIFICATION)
        request = EmbedRequest(spec.model_id, inputs, timeout=_EMBED_TIMEOUT_S)
        return (await provider.embed(request)).vectors

    return f"{spec.provider.value}:{spec.base_url or ''}:{spec.model_id}", embed

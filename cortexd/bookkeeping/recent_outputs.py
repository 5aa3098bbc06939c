"""What each client's calls really use: the output tokens of its latest answered calls.

A coding agent asks for ``max_tokens: 64000`` on every call and answers in a few hundred;
a budget that reserved the cap would block itself. `RecentOutputs.typical` gives the size
a client's answers usually stay under, to reserve instead. Kept in memory, bounded, fed by
each answered call and seeded at start from the ledger.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence

from cortexd.ledger.writer import quantile

#: How many answered calls of each client are kept.
PER_CLIENT = 64
#: How many clients are kept; the one seen least recently goes first.
CLIENTS = 64
#: Fewer answered calls than this say nothing typical.
MIN_CALLS = 5
#: The share of a client's answers `typical` covers.
QUANTILE = 0.9


class RecentOutputs:
    """Per client name, the output tokens of its last `per_client` answered calls.

    Calls without a client name are not kept: they may come from anything, and what one
    program uses says nothing of another's next call.

    >>> recent = RecentOutputs()
    >>> for tokens in (120, 300, 80, 450, 200, 9000):
    ...     recent.observe("claude-cli", tokens)
    >>> recent.typical("claude-cli"), recent.typical("codex_exec")
    (9000, None)
    """

    def __init__(
        self, *, per_client: int = PER_CLIENT, clients: int = CLIENTS, min_calls: int = MIN_CALLS
    ) -> None:
        self.per_client = per_client
        self.clients = clients
        self.min_calls = min_calls
        # Least recently seen first: a client observed again moves to the end.
        self._outputs: collections.OrderedDict[str, collections.deque[int]] = (
            collections.OrderedDict()
        )

    def observe(self, client: str | None, output_tokens: int) -> None:
        """A call of `client` was answered with `output_tokens` tokens."""
        if client is None:
            return
        kept = self._outputs.get(client)
        if kept is None:
            kept = self._outputs[client] = collections.deque(maxlen=self.per_client)
        else:
            self._outputs.move_to_end(client)
        kept.append(max(0, output_tokens))
        self._evict()

    def typical(self, client: str | None) -> int | None:
        """The 90th percentile of `client`'s latest answers, in output tokens; None while it
        has fewer than `min_calls` answered calls (or no name)."""
        kept = self._outputs.get(client) if client is not None else None
        if kept is None or len(kept) < self.min_calls:
            return None
        found = quantile(sorted(kept), QUANTILE)
        return None if found is None else int(found)

    def seed(self, history: Iterable[tuple[str, Sequence[int]]]) -> None:
        """Take in what the ledger remembers: per client, least recently seen first, its
        answers' output tokens, oldest first. Calls observed already count as newer."""
        seeded: collections.OrderedDict[str, collections.deque[int]] = collections.OrderedDict()
        for client, outputs in history:
            kept = collections.deque(outputs, maxlen=self.per_client)
            live = self._outputs.get(client)
            if live is None:
                seeded[client] = kept
            else:
                kept.extend(live)
                self._outputs[client] = kept  # keeps its place among the clients seen live
        seeded.update(self._outputs)
        self._outputs = seeded
        self._evict()

    def outputs(self, client: str) -> tuple[int, ...]:
        """The answers kept of `client`, oldest first."""
        return tuple(self._outputs.get(client, ()))

    def names(self) -> tuple[str, ...]:
        """The clients kept, least recently seen first."""
        return tuple(self._outputs)

    def _evict(self) -> None:
        while len(self._outputs) > self.clients:
            self._outputs.popitem(last=False)

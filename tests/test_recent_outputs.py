"""RecentOutputs: each client's typical answer size, kept bounded."""

from __future__ import annotations

import doctest

import pytest

from cortexd import recent_outputs
from cortexd.recent_outputs import RecentOutputs


def test_the_docstring_example() -> None:
    result = doctest.testmod(recent_outputs)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("outputs", "typical"),
    [
        ([], None),
        ([300, 200, 100, 400], None),  # four calls say nothing yet
        ([300, 200, 100, 400, 500], 500),  # nearest rank: the 5th of 5
        (list(range(1, 11)), 9),  # the 9th of 10
        (list(range(100, 0, -1)), 58),  # the last 64 only (64…1), in any order: the 58th
        (list(range(1, 101)), 94),  # 37…100: the 58th
        ([0] * 9 + [64_000], 0),  # one answer cut at the cap moves nothing
        ([250] * 10, 250),
        ([-5, 10, 10, 10, 10], 10),  # a bogus negative count is kept as 0
    ],
)
def test_typical_is_the_90th_percentile(outputs: list[int], typical: int | None) -> None:
    recent = RecentOutputs()
    for tokens in outputs:
        recent.observe("claude-cli", tokens)
    assert recent.typical("claude-cli") == typical


def test_only_the_latest_calls_of_a_client_count() -> None:
    recent = RecentOutputs(per_client=5)
    for tokens in (60_000, 60_000, 60_000, 100, 200, 300, 400, 500):
        recent.observe("codex_exec", tokens)
    assert recent.typical("codex_exec") == 500  # the big answers of old have left


def test_clients_are_apart_and_unnamed_ones_not_kept() -> None:
    recent = RecentOutputs()
    for _ in range(5):
        recent.observe("claude-cli", 300)
        recent.observe("codex_exec", 2000)
        recent.observe(None, 10)
    assert (recent.typical("claude-cli"), recent.typical("codex_exec")) == (300, 2000)
    assert recent.typical(None) is None and recent.typical("zed") is None
    assert recent.names() == ("claude-cli", "codex_exec")


def test_the_client_seen_least_recently_goes_first() -> None:
    recent = RecentOutputs(clients=2, min_calls=1)
    recent.observe("a", 1)
    recent.observe("b", 2)
    recent.observe("a", 3)  # 'a' seen again: 'b' is now the oldest
    recent.observe("c", 4)
    assert (recent.typical("a"), recent.typical("b"), recent.typical("c")) == (3, None, 4)
    assert recent.names() == ("a", "c")


def test_typical_changes_nothing() -> None:
    recent = RecentOutputs(clients=2, min_calls=1)
    recent.observe("a", 1)
    recent.observe("b", 2)
    recent.typical("a")  # asking is not seeing: 'a' stays the oldest
    recent.observe("c", 3)
    assert recent.typical("a") is None and recent.typical("b") == 2


def test_seeding_puts_the_ledgers_calls_before_those_seen_live() -> None:
    recent = RecentOutputs(per_client=4, clients=3, min_calls=1)
    recent.observe("live", 7)
    recent.observe("both", 900)
    recent.seed([("old", [1, 2]), ("both", [10, 20, 30, 40]), ("older-than-live", [5])])
    # 'both' keeps its newest four: three from the ledger, then the live one.
    assert recent.outputs("both") == (20, 30, 40, 900)
    # Seeded clients count as seen before any live one; three fit, 'old' went first.
    assert recent.names() == ("older-than-live", "live", "both")

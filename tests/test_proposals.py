"""Routing proposals: synthetic ledger evidence whose right answer is known → the proposals,
pending candidates and cell edits that `propose` returns; the interval helpers against
published values."""

from __future__ import annotations

import doctest
import hashlib
import random

import pytest

from cortexd.context.paths import default_routing_text
from cortexd.routing import proposals
from cortexd.routing.proposals import (
    Evidence,
    ModelEvidence,
    Pending,
    Proposal,
    difference_interval,
    propose,
    wilson_interval,
)
from cortexd.routing.routing_file.edit import CellChange
from cortexd.routing.routing_file.parse import catalog_for, parse_routing_text
from cortexd.routing.table import Mode, Route, RoutingTable

SEED = parse_routing_text(default_routing_text())
CATALOG = catalog_for(SEED)

LOCAL_TEXT = """\
# Model Routing

## Routing Table

| Task Type | Primary | Fallback |
|---|---|---|
| Quick capture / filing | haiku | sonnet |
| Code generation | sonnet | codex |

## Local Models

| Task Type | Local Model | Cloud Fallback | Enabled |
|---|---|---|---|
| Quick capture / filing | llama3.1:8b | haiku | auto |
| Code generation | qwen2.5-coder:14b | sonnet | on |
"""
LOCAL = parse_routing_text(LOCAL_TEXT)

PICO = 10**12  # pico-USD to the dollar


def model(
    task: str,
    name: str,
    answered: int = 0,
    achieved: int = 0,
    *,
    dollars: float = 0.0,
    failures: int = 0,
    timeouts: int = 0,
    tries: int | None = None,
    overridden_to: int = 0,
) -> ModelEvidence:
    """One model's evidence; `dollars` is the cost of one answered call."""
    return ModelEvidence(
        task=task,
        model=name,
        answered=answered,
        achieved=achieved,
        tries=answered + failures if tries is None else tries,
        failures=failures,
        timeouts=timeouts,
        cost_pico=round(dollars * PICO) * answered,
        overridden_to=overridden_to,
    )


def evidence(*models: ModelEvidence, calls: dict[str, int] | None = None) -> Evidence:
    return Evidence(since=0.0, until=7 * 86400.0, models=models, task_calls=calls or {})


def review(codex: tuple[int, int], sonnet: tuple[int, int], codex_cost: float = 0.004) -> Evidence:
    """Code review (sonnet, fallback codex): (achieved, answered) for each side."""
    return evidence(
        model("Code review", "codex", codex[1], codex[0], dollars=codex_cost),
        model("Code review", "sonnet", sonnet[1], sonnet[0], dollars=0.011),
    )


# ---------------------------------------------------------------------------------------------
# the interval helpers


def test_wilson_interval_matches_the_published_value() -> None:
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4)
    assert high == pytest.approx(0.3662, abs=1e-4)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((56, 70, 48, 80), (0.0524, 0.3339)),  # Newcombe (1998), Table II, method 10
        ((9, 10, 3, 10), (0.1705, 0.8090)),
    ],
)
def test_difference_interval_matches_newcombe(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    assert difference_interval(*counts) == pytest.approx(expected, abs=1e-4)


def test_interval_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert difference_interval(3, 5, 0, 0) == (-1.0, 1.0)
    assert difference_interval(0, 0, 3, 5) == (-1.0, 1.0)
    low, high = difference_interval(56, 70, 48, 80)
    assert difference_interval(48, 80, 56, 70) == pytest.approx((-high, -low))
    # Counts that do not add up must not crash the CLI with a math domain error.
    assert 0.0 <= wilson_interval(12, 10)[0] <= 1.0


def test_the_docstring_examples_run() -> None:
    result = doctest.testmod(proposals)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# swap


def test_a_better_cheaper_fallback_becomes_the_primary() -> None:
    found, pending = propose(review(codex=(46, 50), sonnet=(30, 50)), SEED, CATALOG)
    assert pending == []
    [proposal] = found
    assert proposal.kind == "swap"
    assert proposal.task == "Code review"
    assert proposal.summary == "Code review: make codex the primary, sonnet the fallback"
    assert proposal.changes == (
        CellChange("Routing Table", "Code review", "primary", "sonnet", "codex"),
        CellChange("Routing Table", "Code review", "fallback", "codex", "sonnet"),
    )
    assert proposal.calls == 100
    assert proposal.evidence == (
        "codex: achieved 46 of 50 (92%, 95% lower bound 81%), $0.0040 a call",
        "sonnet: achieved 30 of 50 (60%, 95% lower bound 46%), $0.0110 a call",
        "difference 32 points, 95% lower bound 16 points",
    )
    assert proposal.key == "swap:Code review:sonnet->codex"
    assert proposal.id == hashlib.sha256(proposal.key.encode()).hexdigest()[:8]


def test_the_same_rates_on_eight_calls_are_only_pending() -> None:
    found, pending = propose(review(codex=(7, 8), sonnet=(4, 8)), SEED, CATALOG)
    assert found == []
    [candidate] = pending
    assert candidate.key == "swap:Code review:sonnet->codex"
    assert candidate.task == "Code review"
    assert 0 < candidate.needs_calls < 200
    # At the same rates, that many more calls a side does produce the proposal …
    n = 8 + candidate.needs_calls
    grown = review(codex=(round(7 * n / 8), n), sonnet=(round(4 * n / 8), n))
    found, pending = propose(grown, SEED, CATALOG)
    assert [p.key for p in found] == [candidate.key] and pending == []
    # … and (about) no fewer would.
    n = 8 + candidate.needs_calls // 2
    half = review(codex=(round(7 * n / 8), n), sonnet=(round(4 * n / 8), n))
    assert propose(half, SEED, CATALOG)[0] == []


def test_a_clear_difference_on_too_few_calls_waits_for_the_minimum() -> None:
    found, pending = propose(review(codex=(15, 15), sonnet=(3, 15)), SEED, CATALOG)
    assert difference_interval(15, 15, 3, 15)[0] > 0  # clear already, but thin
    assert found == []
    assert [p.needs_calls for p in pending] == [proposals.MIN_ANSWERED - 15]


def test_a_better_but_dearer_fallback_is_not_proposed() -> None:
    found, pending = propose(review((46, 50), (30, 50), codex_cost=0.02), SEED, CATALOG)
    assert found == [] and pending == []


def test_equal_cost_is_enough_and_a_worse_fallback_is_nothing() -> None:
    assert propose(review((46, 50), (30, 50), codex_cost=0.011), SEED, CATALOG)[0] != []
    assert propose(review((30, 50), (46, 50)), SEED, CATALOG) == ([], [])


def test_a_difference_out_of_reach_is_not_pending() -> None:
    # 50.0% against 50.1%: tens of thousands of calls a side would be needed.
    found, pending = propose(review((501, 1000), (500, 1000)), SEED, CATALOG)
    assert found == [] and pending == []


def test_the_fallback_cell_keeps_its_other_models() -> None:
    table = RoutingTable(
        "<test>",
        Mode.STATIC,
        {"Code review": Route("Code review", ("sonnet", "gpt-4o", "codex"), 1)},
    )
    found, _ = propose(review((46, 50), (30, 50)), table, CATALOG)
    [proposal] = found
    assert proposal.changes[1] == CellChange(
        "Routing Table", "Code review", "fallback", "gpt-4o / codex", "gpt-4o / sonnet"
    )
    assert proposal.summary.endswith("make codex the primary, fallbacks gpt-4o / sonnet")


# ---------------------------------------------------------------------------------------------
# failing primary


def test_a_failing_primary_swaps_to_its_working_fallback() -> None:
    data = evidence(
        model("Meeting summary", "sonnet", 36, 33, failures=24, timeouts=20, dollars=0.01),
        model("Meeting summary", "opus", 23, 20, failures=1, dollars=0.05),
    )
    found, pending = propose(data, SEED, CATALOG)
    assert pending == []
    [proposal] = found
    assert proposal.kind == "failing-primary"
    assert proposal.calls == 60
    assert proposal.changes == (
        CellChange("Routing Table", "Meeting summary", "primary", "sonnet", "opus"),
        CellChange("Routing Table", "Meeting summary", "fallback", "opus", "sonnet"),
    )
    assert proposal.evidence[0].startswith("sonnet: failed 24 of 60 tries (40%, 95% lower bound")
    assert proposal.evidence[1].startswith("opus: failed 1 of 24 tries (4%")
    assert "20 of the 24 failures were timeouts" in proposal.evidence


def test_a_failing_primary_without_fallback_gets_advice_only() -> None:
    data = evidence(model("Security audit", "opus", 36, 30, failures=24, dollars=0.05))
    [proposal], _ = propose(data, SEED, CATALOG)
    assert proposal.kind == "failing-primary"
    assert proposal.changes == ()
    assert proposal.summary == (
        "Security audit: opus fails 40% of its tries; add a fallback for Security audit"
    )
    assert not any("timeouts" in line for line in proposal.evidence)  # none timed out


def test_no_failing_proposal_when_the_fallback_fails_as_much_or_tries_are_few() -> None:
    worse = evidence(
        model("Meeting summary", "sonnet", 36, 33, failures=24),
        model("Meeting summary", "opus", 10, 9, failures=10),
    )
    assert propose(worse, SEED, CATALOG) == ([], [])
    few = evidence(model("Security audit", "opus", 6, 5, failures=4))
    found, pending = propose(few, SEED, CATALOG)
    assert found == [] and [p.key for p in pending] == [
        "failing-primary:Security audit:opus->(add fallback)"
    ]


def test_swap_and_failing_primary_with_the_same_edit_give_one_proposal() -> None:
    data = evidence(
        model("Code review", "sonnet", 50, 30, failures=40, dollars=0.011),
        model("Code review", "codex", 50, 46, failures=0, dollars=0.004),
    )
    found, _ = propose(data, SEED, CATALOG)
    assert [p.kind for p in found] == ["swap"]


# ---------------------------------------------------------------------------------------------
# overrides


def test_most_calls_overridden_to_one_model_make_it_the_primary() -> None:
    data = evidence(
        model("Meeting summary", "opus", 12, 11, overridden_to=12),
        calls={"Meeting summary": 15},
    )
    [proposal], pending = propose(data, SEED, CATALOG)
    assert pending == []
    assert proposal.kind == "override"
    assert proposal.calls == 15
    assert proposal.changes == (
        CellChange("Routing Table", "Meeting summary", "primary", "sonnet", "opus"),
        CellChange("Routing Table", "Meeting summary", "fallback", "opus", "sonnet"),
    )
    assert proposal.evidence[0].startswith("opus: chosen by override in 12 of 15 calls (80%")


def test_an_override_model_outside_the_chain_keeps_the_old_fallbacks() -> None:
    data = evidence(
        model("Complex reasoning", "sonnet", 12, 11, overridden_to=12),
        calls={"Complex reasoning": 15},
    )
    [proposal], _ = propose(data, SEED, CATALOG)
    assert proposal.changes[1] == CellChange(
        "Routing Table", "Complex reasoning", "fallback", "gpt-4o", "opus / gpt-4o"
    )
    assert proposal.summary.endswith("make sonnet the primary, fallbacks opus / gpt-4o")


def test_an_override_on_a_route_without_fallback_fills_the_empty_cell() -> None:
    data = evidence(
        model("Content drafting", "opus", 12, 11, overridden_to=12),
        calls={"Content drafting": 15},
    )
    [proposal], _ = propose(data, SEED, CATALOG)
    assert proposal.changes[1] == CellChange(
        "Routing Table", "Content drafting", "fallback", "—", "sonnet"
    )


def test_a_few_overrides_are_nothing() -> None:
    data = evidence(
        model("Meeting summary", "opus", 2, 2, overridden_to=2), calls={"Meeting summary": 15}
    )
    assert propose(data, SEED, CATALOG) == ([], [])


def test_overrides_to_the_primary_itself_are_nothing() -> None:
    data = evidence(
        model("Meeting summary", "sonnet", 12, 11, overridden_to=12),
        calls={"Meeting summary": 15},
    )
    assert propose(data, SEED, CATALOG) == ([], [])


def test_a_large_but_thin_override_share_is_pending() -> None:
    data = evidence(
        model("Meeting summary", "opus", 4, 4, overridden_to=4), calls={"Meeting summary": 5}
    )
    found, pending = propose(data, SEED, CATALOG)
    assert found == []
    [candidate] = pending
    assert candidate.key == "override:Meeting summary:sonnet->opus"
    assert candidate.needs_calls > 0


# ---------------------------------------------------------------------------------------------
# local models


def test_a_local_row_switched_off_but_as_good_as_the_cloud_goes_back_to_auto() -> None:
    table = parse_routing_text(LOCAL_TEXT.replace("| haiku | auto |", "| haiku | off |"))
    data = evidence(
        model("Quick capture / filing", "llama3.1:8b", 200, 196),
        model("Quick capture / filing", "haiku", 200, 194, dollars=0.001),
    )
    [proposal], pending = propose(data, table, catalog_for(table))
    assert pending == []
    assert proposal.kind == "local"
    assert proposal.changes == (
        CellChange("Local Models", "Quick capture / filing", "toggle", "off", "auto"),
    )
    assert proposal.key == "local:Quick capture / filing:llama3.1:8b:off->auto"
    assert proposal.calls == 400
    assert proposal.evidence[0] == (
        "llama3.1:8b: achieved 196 of 200 (98%, 95% lower bound 95%), $0.0000 a call"
    )
    assert proposal.evidence[2].endswith("(margin -5 points)")


def test_an_auto_row_is_left_to_the_hardware_probe() -> None:
    # Forcing it on would run the model where it does not fit.
    data = evidence(
        model("Quick capture / filing", "llama3.1:8b", 200, 196),
        model("Quick capture / filing", "haiku", 200, 194, dollars=0.001),
    )
    assert propose(data, LOCAL, catalog_for(LOCAL)) == ([], [])


def test_a_clearly_worse_local_model_is_nothing() -> None:
    table = parse_routing_text(LOCAL_TEXT.replace("| haiku | auto |", "| haiku | off |"))
    data = evidence(
        model("Quick capture / filing", "llama3.1:8b", 200, 150),
        model("Quick capture / filing", "haiku", 200, 194, dollars=0.001),
    )
    assert propose(data, table, catalog_for(table)) == ([], [])


def test_a_local_row_already_on_is_left_alone() -> None:
    data = evidence(
        model("Code generation", "qwen2.5-coder:14b", 200, 196),
        model("Code generation", "sonnet", 200, 194, dollars=0.01),
    )
    assert propose(data, LOCAL, catalog_for(LOCAL)) == ([], [])


def test_a_local_model_without_a_local_row_gets_advice_only() -> None:
    data = evidence(
        model("Code review", "qwen2.5-coder:14b", 200, 196),
        model("Code review", "sonnet", 200, 194, dollars=0.01),
    )
    [proposal], _ = propose(data, SEED, CATALOG)
    assert proposal.kind == "local" and proposal.changes == ()
    assert "add a Local Models row" in proposal.summary


def test_a_local_model_level_on_few_calls_is_pending() -> None:
    data = evidence(
        model("Quick capture / filing", "llama3.1:8b", 30, 29),
        model("Quick capture / filing", "haiku", 30, 29, dollars=0.001),
    )
    table = parse_routing_text(LOCAL_TEXT.replace("| haiku | auto |", "| haiku | off |"))
    found, pending = propose(data, table, catalog_for(table))
    assert found == [] and len(pending) == 1
    assert pending[0].key.startswith("local:Quick capture / filing:")


# ---------------------------------------------------------------------------------------------
# rejections, identity, order, robustness


def mixed() -> Evidence:
    return evidence(
        model("Code review", "codex", 50, 46, dollars=0.004),
        model("Code review", "sonnet", 50, 30, dollars=0.011),
        model("Meeting summary", "opus", 12, 11, overridden_to=12),
        model("Security audit", "opus", 36, 30, failures=24),
        model("Quick capture / filing", "haiku", 200, 194, failures=100, dollars=0.001),
        model("Quick capture / filing", "sonnet", 30, 29, failures=1, dollars=0.01),
        model("Quick capture / filing", "llama3.1:8b", 200, 196),
        model("No such task", "sonnet", 50, 1),
        calls={"Meeting summary": 15},
    )


def test_keys_and_ids_are_stable_distinct_and_ordered() -> None:
    first, _ = propose(mixed(), SEED, CATALOG)
    shuffled = list(mixed().models)
    random.Random(7).shuffle(shuffled)
    again, _ = propose(evidence(*shuffled, calls={"Meeting summary": 15}), SEED, CATALOG)
    assert first == again
    assert [(p.task, p.kind) for p in first] == [
        ("Quick capture / filing", "failing-primary"),
        ("Meeting summary", "override"),
        ("Code review", "swap"),
        ("Security audit", "failing-primary"),
    ]
    assert len({p.key for p in first}) == len({p.id for p in first}) == len(first)
    assert all(p.id == hashlib.sha256(p.key.encode()).hexdigest()[:8] for p in first)


def test_unknown_models_and_local_only_routes_are_skipped() -> None:
    routes = {
        "Code review": Route("Code review", ("sonnet", "mystery-model"), 1),
        "Private notes": Route("Private notes", ("sonnet", "codex"), 2, local_only=True),
    }
    table = RoutingTable("<test>", Mode.STATIC, routes)
    data = evidence(
        model("Code review", "mystery-model", 50, 46),
        model("Code review", "sonnet", 50, 30, dollars=0.011),
        model("Private notes", "codex", 50, 46),
        model("Private notes", "sonnet", 50, 30, dollars=0.011),
    )
    assert propose(data, table, CATALOG) == ([], [])


def test_no_evidence_no_proposals() -> None:
    assert propose(evidence(), SEED, CATALOG) == ([], [])


def test_the_types_are_frozen() -> None:
    [proposal], _ = propose(review((46, 50), (30, 50)), SEED, CATALOG)
    assert isinstance(proposal, Proposal)
    with pytest.raises(AttributeError):
        proposal.calls = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Pending("k", "t", "s", 1).needs_calls = 2  # type: ignore[misc]


def test_two_reasons_for_one_task_make_one_not_yet_line() -> None:
    # sonnet fails often and opus, its fallback, achieves more: both lean towards opus.
    found = evidence(
        model("Meeting summary", "sonnet", 10, 6, dollars=0.01, failures=8),
        model("Meeting summary", "opus", 8, 8, dollars=0.009),
    )
    made, pending = propose(found, SEED, CATALOG)
    assert made == []
    assert len([p for p in pending if p.task == "Meeting summary"]) == 1

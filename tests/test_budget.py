"""Budgets as pure policy: statuses, thresholds crossed, and each 100% policy at the gate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cortexd.routing.budget import (
    PICO,
    Spend,
    call_estimate,
    crossed,
    dollars,
    gate,
    statuses,
)
from cortexd.routing.catalog import build_catalog
from cortexd.routing.providers.chat import ChatMessage, ChatRequest
from cortexd.routing.table import Budget, BudgetPolicy

CATALOG = build_catalog([], {})


def budget(scope: str, limit: str, policy: BudgetPolicy = BudgetPolicy.CONTINUE) -> Budget:
    return Budget(scope, Decimal(limit), (50, 80, 100), policy, 1)


def usd(amount: str) -> int:
    return int(Decimal(amount) * PICO)


def flat(cents: int) -> object:
    return lambda _spec: cents * PICO // 100


def test_statuses_put_the_total_last_and_count_every_provider_in_it() -> None:
    spend = Spend({"anthropic": usd("30"), "openai": usd("15")})
    budgets = {"total": budget("total", "100"), "openai": budget("openai", "20")}
    found = statuses(spend, budgets)
    assert [s.budget.scope for s in found] == ["openai", "total"]
    assert found[0].reached == (50,) and found[0].percent == 75.0
    assert found[1].spent == usd("45") and found[1].reached == ()


def test_a_threshold_is_crossed_once_between_two_spends() -> None:
    budgets = {"anthropic": budget("anthropic", "50")}
    assert crossed(Spend({"anthropic": usd("39")}), Spend({"anthropic": usd("40")}), budgets) == [
        ("anthropic", 80)
    ]
    assert crossed(Spend({"anthropic": usd("40")}), Spend({"anthropic": usd("41")}), budgets) == []
    # A single expensive call can cross several at once.
    assert crossed(Spend({}), Spend({"anthropic": usd("60")}), budgets) == [
        ("anthropic", 50),
        ("anthropic", 80),
        ("anthropic", 100),
    ]


def test_under_budget_the_chain_is_untouched() -> None:
    budgets = {"anthropic": budget("anthropic", "50", BudgetPolicy.REFUSE)}
    got = gate(("sonnet", "opus"), CATALOG, Spend({"anthropic": usd("10")}), budgets, flat(1))
    assert got.chain == ("sonnet", "opus") and got.refusal is None and got.notes == ()


def test_continue_never_holds_a_call_back() -> None:
    budgets = {"anthropic": budget("anthropic", "50", BudgetPolicy.CONTINUE)}
    got = gate(("sonnet",), CATALOG, Spend({"anthropic": usd("80")}), budgets, flat(1))
    assert got.chain == ("sonnet",) and got.refusal is None


def test_fallback_drops_the_spent_provider_and_the_fallback_answers() -> None:
    budgets = {"anthropic": budget("anthropic", "50", BudgetPolicy.FALLBACK)}
    got = gate(("sonnet", "codex"), CATALOG, Spend({"anthropic": usd("50")}), budgets, flat(1))
    assert got.chain == ("codex",) and got.refusal is None
    assert "sonnet skipped" in got.notes[0] and "$50.00" in got.notes[0]
    assert got.limited == ("anthropic",)


def test_a_call_that_would_cross_the_limit_is_handled_before_it_is_sent() -> None:
    budgets = {"anthropic": budget("anthropic", "50", BudgetPolicy.FALLBACK)}
    just_under = Spend({"anthropic": usd("49.995")})
    assert gate(("sonnet", "codex"), CATALOG, just_under, budgets, flat(0)).chain == (
        "sonnet",
        "codex",
    )
    assert gate(("sonnet", "codex"), CATALOG, just_under, budgets, flat(1)).chain == ("codex",)


def test_fallback_with_nothing_else_left_refuses() -> None:
    budgets = {"anthropic": budget("anthropic", "50", BudgetPolicy.FALLBACK)}
    got = gate(("haiku", "sonnet"), CATALOG, Spend({"anthropic": usd("60")}), budgets, flat(1))
    assert got.chain == () and got.refusal is not None
    assert "cortex budget set" in got.refusal


def test_local_puts_the_tasks_local_model_in_place() -> None:
    budgets = {"anthropic": budget("anthropic", "50", BudgetPolicy.LOCAL)}
    spend = Spend({"anthropic": usd("50")})
    got = gate(("sonnet", "codex"), CATALOG, spend, budgets, flat(1), "llama3.1:8b")
    assert got.chain == ("llama3.1:8b", "codex")
    assert "sonnet → llama3.1:8b (local)" in got.notes[0]
    # Two spent models collapse onto one local model.
    both = gate(("haiku", "sonnet"), CATALOG, spend, budgets, flat(1), "llama3.1:8b")
    assert both.chain == ("llama3.1:8b",)
    # No local model for the task: the model is dropped as under `fallback`.
    assert gate(("sonnet", "codex"), CATALOG, spend, budgets, flat(1)).chain == ("codex",)


def test_refuse_refuses_a_spent_primary_and_drops_a_spent_fallback() -> None:
    budgets = {"openai": budget("openai", "20", BudgetPolicy.REFUSE)}
    spend = Spend({"openai": usd("20")})
    refused = gate(("codex", "sonnet"), CATALOG, spend, budgets, flat(1))
    assert refused.chain == () and refused.refusal is not None
    assert refused.refusal.startswith("not sent to codex: openai budget $20.00/month")
    kept = gate(("sonnet", "codex"), CATALOG, spend, budgets, flat(1))
    assert kept.chain == ("sonnet",) and kept.refusal is None


def test_the_total_budget_counts_every_provider_and_spares_local_models() -> None:
    budgets = {"total": budget("total", "40", BudgetPolicy.FALLBACK)}
    spend = Spend({"anthropic": usd("25"), "openai": usd("15")})
    got = gate(("sonnet", "codex", "llama3.1:8b"), CATALOG, spend, budgets, flat(1))
    assert got.chain == ("llama3.1:8b",)


def test_the_strictest_binding_budget_wins() -> None:
    budgets = {
        "anthropic": budget("anthropic", "50", BudgetPolicy.FALLBACK),
        "total": budget("total", "60", BudgetPolicy.REFUSE),
    }
    spend = Spend({"anthropic": usd("55"), "openai": usd("10")})
    assert gate(("sonnet", "codex"), CATALOG, spend, budgets, flat(1)).refusal is not None
    calm = Spend({"anthropic": usd("55")})  # only the provider's budget binds
    assert gate(("sonnet", "codex"), CATALOG, calm, budgets, flat(1)).chain == ("codex",)


def test_the_estimate_prices_the_prompt_and_the_answer_it_allows() -> None:
    request = ChatRequest("auto", (ChatMessage.of("user", "x" * 3500),), max_tokens=1000)
    estimate = call_estimate(CATALOG, request)
    sonnet, local = CATALOG.resolve("sonnet"), CATALOG.resolve("llama3.1:8b")
    assert sonnet is not None and local is not None
    price = CATALOG.price(sonnet)
    assert price is not None
    expected = (1004 * price.input_mtok + 1000 * price.output_mtok) * PICO / 1_000_000
    assert estimate(sonnet) == pytest.approx(float(expected))
    assert estimate(local) == 0


def test_dollars_reads_well() -> None:
    assert dollars(usd("1234.5")) == "$1,234.50"
    assert dollars(usd("0.00042")) == "$0.0004"


def test_without_max_tokens_anthropic_is_estimated_at_the_cap_it_is_sent() -> None:
    request = ChatRequest("auto", (ChatMessage.of("user", "hi"),))
    estimate = call_estimate(CATALOG, request)
    for name, answer in (("sonnet", 8192), ("gpt-4o", 1024)):
        spec = CATALOG.resolve(name)
        assert spec is not None
        price = CATALOG.price(spec)
        assert price is not None
        expected = (4 * price.input_mtok + answer * price.output_mtok) * PICO / 1_000_000
        assert estimate(spec) == pytest.approx(float(expected)), name

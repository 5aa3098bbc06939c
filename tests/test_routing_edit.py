"""Editing the routing file in place: the named cells and the date change, nothing else."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from cortexd.context.paths import default_routing_text
from cortexd.routing.routing_file.edit import (
    CellChange,
    EditError,
    apply_changes,
    set_budget,
    unified_diff,
)
from cortexd.routing.routing_file.parse import parse_routing_text
from cortexd.routing.table import Budget, BudgetPolicy

SEED = default_routing_text()
TODAY = datetime.date(2026, 3, 14)
SEED_TODAY = SEED.replace("**Last updated**: 2026-02-02", "**Last updated**: 2026-03-14")

SWAP_CODE_REVIEW = (
    CellChange("Routing Table", "Code review", "primary", "sonnet", "codex"),
    CellChange("Routing Table", "Code review", "fallback", "codex", "sonnet"),
)

ROUTES = (
    "## Routing Table\n"
    "\n"
    "| Task Type | Primary | Fallback |\n"
    "|---|---|---|\n"
    "| Code review | sonnet | codex |\n"
)


def line_of(text: str, fragment: str) -> int:
    """The 1-based number of the first line of `text` containing `fragment`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def changed_lines(old: str, new: str) -> dict[int, str]:
    """The lines (1-based, with their endings) where `new` differs from `old`, which must
    have as many lines."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(before) == len(after)
    return {n: b for n, (a, b) in enumerate(zip(before, after, strict=True), 1) if a != b}


def edit(text: str, *changes: CellChange) -> str:
    return apply_changes(text, changes, today=TODAY)


def route(task: str, column: str, old: str, new: str) -> CellChange:
    return CellChange("Routing Table", task, column, old, new)


def crlf_bom(text: str) -> str:
    return "\ufeff" + text.replace("\n", "\r\n")


# ---------------------------------------------------------------------------------------------
# apply_changes on the seed


def test_swapping_code_review_changes_its_two_cells_and_the_date_only() -> None:
    new = edit(SEED, *SWAP_CODE_REVIEW)
    assert changed_lines(SEED, new) == {
        3: "**Last updated**: 2026-03-14\n",
        31: "| Code review | codex | sonnet | Different models catch different issues |\n",
    }
    assert parse_routing_text(new).routes["Code review"].chain == ("codex", "sonnet")


def test_an_emphasised_cell_is_rewritten_without_its_emphasis() -> None:
    new = edit(SEED, route("Code generation", "fallback", "codex", "opus"))
    line = line_of(SEED, "| Code generation |")
    assert changed_lines(SEED, new)[line] == (
        "| Code generation | sonnet | opus "
        "| Claude for most code, Codex for heavy backend/algorithmic work |\n"
    )
    assert parse_routing_text(new).routes["Code generation"].chain == ("sonnet", "opus")


@pytest.mark.parametrize("old", ["—", "", "none"])
def test_a_no_fallback_cell_takes_a_model(old: str) -> None:
    new = edit(SEED, route("Content drafting", "Fallback", old, "haiku"))
    line = line_of(SEED, "| Content drafting |")
    assert (
        changed_lines(SEED, new)[line]
        == "| Content drafting | sonnet | haiku | Creative + fast |\n"
    )
    assert parse_routing_text(new).routes["Content drafting"].chain == ("sonnet", "haiku")


def test_a_fallback_can_be_removed() -> None:
    new = edit(SEED, route("research / ANALYSIS", "fallback", "GPT-4o", "—"))
    line = line_of(SEED, "| Research / analysis |")
    assert changed_lines(SEED, new)[line] == "| Research / analysis | opus | — | Needs depth |\n"


def test_the_section_decides_which_of_two_same_named_rows_changes() -> None:
    change = CellChange("Local Models", "Code generation", "fallback", "codex / sonnet", "sonnet")
    new = edit(SEED, change)
    assert set(changed_lines(SEED, new)) == {3, line_of(SEED, "| Code generation | qwen2.5")}
    table = parse_routing_text(new)
    assert table.local["Code generation"].fallback == ("sonnet",)
    assert table.routes["Code generation"].chain == ("sonnet", "codex")


def test_an_empty_list_changes_nothing_not_even_the_date() -> None:
    assert apply_changes(SEED, [], today=TODAY) == SEED


# ---------------------------------------------------------------------------------------------
# layouts the user may have: alignment, outer pipes, escapes, line endings

ALIGNED = (
    "## Routing Table\n"
    "\n"
    "| Task Type   | Primary | Fallback |\n"
    "|-------------|---------|----------|\n"
    "| Code review | sonnet  | codex    |\n"
    "| Bulk work   | haiku   | —        |\n"
)


def test_an_aligned_table_keeps_its_column_widths() -> None:
    new = edit(
        ALIGNED,
        route("Code review", "primary", "sonnet", "opus"),
        route("Bulk work", "fallback", "—", "sonnet"),
    )
    assert changed_lines(ALIGNED, new) == {
        5: "| Code review | opus    | codex    |\n",
        6: "| Bulk work   | haiku   | sonnet   |\n",
    }


def test_a_value_too_wide_for_an_aligned_column_grows_only_its_own_line() -> None:
    new = edit(ALIGNED, route("Code review", "fallback", "codex", "claude-sonnet-5-5"))
    assert changed_lines(ALIGNED, new) == {5: "| Code review | sonnet  | claude-sonnet-5-5 |\n"}


BARE = (
    "## Routing Table\n"
    "\n"
    "Task Type | Primary | Fallback\n"
    "--- | --- | ---\n"
    "Code review | sonnet | codex\n"
    "Bulk work | haiku | —\n"
)


def test_a_table_without_outer_pipes_and_a_file_without_a_date() -> None:
    new = edit(
        BARE,
        route("Code review", "fallback", "codex", "opus"),
        route("Bulk work", "task type", "bulk work", "Bulk jobs"),
    )
    assert changed_lines(BARE, new) == {
        5: "Code review | sonnet | opus\n",
        6: "Bulk jobs | haiku | —\n",
    }


def test_escaped_pipes_in_another_cell_are_left_alone() -> None:
    text = (
        "## Routing Table\n\n"
        "| Task Type | Notes | Primary | Fallback |\n"
        "|---|---|---|---|\n"
        "| Code review | fast \\| cheap, `a \\| b` | sonnet | codex |\n"
    )
    new = edit(text, route("Code review", "fallback", "codex", "opus"))
    assert changed_lines(text, new) == {
        5: "| Code review | fast \\| cheap, `a \\| b` | sonnet | opus |\n"
    }


def test_a_pipe_in_the_new_value_is_escaped() -> None:
    text = (
        "## Routing Table\n\n"
        "| Task Type | Primary | Fallback | Notes |\n"
        "|---|---|---|---|\n"
        "| Code review | sonnet | codex | old |\n"
    )
    new = edit(text, route("Code review", "notes", "old", "fast | cheap"))
    assert "| Code review | sonnet | codex | fast \\| cheap |\n" in new
    assert parse_routing_text(new).routes["Code review"].notes == "fast | cheap"


def test_crlf_and_a_bom_survive() -> None:
    new = edit(crlf_bom(SEED), *SWAP_CODE_REVIEW)
    assert new == crlf_bom(edit(SEED, *SWAP_CODE_REVIEW))
    assert new.startswith("\ufeff")
    assert new.count("\n") == new.count("\r\n")


def test_a_missing_final_newline_stays_missing() -> None:
    new = edit(SEED.rstrip("\n"), *SWAP_CODE_REVIEW)
    assert new == edit(SEED, *SWAP_CODE_REVIEW).rstrip("\n")


def test_a_table_in_a_block_quote_is_refused_rather_than_misedited() -> None:
    text = (
        "## Routing Table\n\n> | Task Type | Primary |\n> |---|---|\n> | Code review | sonnet |\n"
    )
    with pytest.raises(EditError, match=r"line 5: cannot rewrite its 'Primary' cell"):
        edit(text, route("Code review", "primary", "sonnet", "opus"))


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("| Code review | sonnet |", "| Code review | sonnet | codex |"),
        ("Code review | sonnet", "Code review | sonnet | codex"),
    ],
)
def test_a_short_row_gets_the_missing_cell(row: str, expected: str) -> None:
    text = ROUTES.replace("| Code review | sonnet | codex |", row)
    new = edit(text, route("Code review", "fallback", "", "codex"))
    assert changed_lines(text, new) == {5: expected + "\n"}


# ---------------------------------------------------------------------------------------------
# the "Last updated" field


def test_a_plain_last_updated_field_is_bumped_on_its_line_only() -> None:
    text = "# Routing\n\nLast updated: 2025-12-01 (by hand)\nOwner: me\n\n" + ROUTES
    new = edit(text, route("Code review", "primary", "sonnet", "opus"))
    assert changed_lines(text, new) == {
        3: "Last updated: 2026-03-14 (by hand)\n",
        10: "| Code review | opus | codex |\n",
    }


def test_a_last_updated_field_that_is_not_a_date_is_replaced() -> None:
    text = "# Routing\n\n**Last Updated:** early February\n\n" + ROUTES
    new = edit(text, route("Code review", "primary", "sonnet", "opus"))
    assert changed_lines(text, new)[3] == "**Last Updated:** 2026-03-14\n"


# ---------------------------------------------------------------------------------------------
# refusals


def test_a_cell_that_changed_since_the_proposal_is_refused() -> None:
    with pytest.raises(
        EditError, match=r"line 31: .*'Code review'.* reads 'sonnet' now, not 'opus'"
    ):
        edit(SEED, route("Code review", "primary", "opus", "codex"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (route("Code reveiw", "primary", "sonnet", "opus"), r"no row 'Code reveiw'.*'Code review'"),
        (
            CellChange("Routing Tabel", "Code review", "primary", "sonnet", "opus"),
            r"unknown section 'Routing Tabel' \(one of: .*Routing Table",
        ),
        (
            route("Code review", "primry", "sonnet", "opus"),
            r"no column 'primry' \(columns: .*primary",
        ),
        (route("Code review", "local only", "", "yes"), r"table has no 'Local Only' column"),
        (
            CellChange("Cross-Validation", "Code review", "model", "", "opus"),
            r"no Cross-Validation table",
        ),
    ],
)
def test_what_cannot_be_found_is_named(change: CellChange, message: str) -> None:
    with pytest.raises(EditError, match=message):
        edit(SEED, change)


def test_two_changes_to_one_cell_are_refused() -> None:
    with pytest.raises(EditError, match="two changes"):
        edit(
            SEED,
            route("Code review", "primary", "sonnet", "opus"),
            route("code review", "Primary", "sonnet", "haiku"),
        )


def test_a_line_break_in_a_new_value_is_refused() -> None:
    with pytest.raises(EditError, match="line break"):
        edit(SEED, route("Code review", "notes", "Different models catch different issues", "a\nb"))


@pytest.mark.parametrize(
    ("name", "hint"), [("gemini-9", "unknown model 'gemini-9'"), ("sonet", "sonnet")]
)
def test_an_edit_that_would_break_the_file_is_refused(name: str, hint: str) -> None:
    with pytest.raises(EditError, match="would not load") as info:
        edit(SEED, route("Code review", "primary", "sonnet", name))
    assert hint in str(info.value)


# ---------------------------------------------------------------------------------------------
# set_budget


def test_a_budget_on_the_seed_appends_a_budgets_section() -> None:
    new = set_budget(SEED, "anthropic", Decimal(50), today=TODAY)
    assert new == SEED_TODAY + (
        "\n"
        "## Budgets\n"
        "\n"
        "| Provider | Monthly limit | Alerts | At 100% |\n"
        "|---|---|---|---|\n"
        "| anthropic | $50 | 50%, 80%, 100% | continue |\n"
    )
    budget = parse_routing_text(new).budgets["anthropic"]
    assert budget == Budget("anthropic", Decimal(50), (50, 80, 100), BudgetPolicy.CONTINUE, 95)


def test_an_appended_section_keeps_crlf_a_bom_and_adds_the_missing_newline() -> None:
    expected = set_budget(SEED, "total", Decimal(80), today=TODAY)
    assert set_budget(crlf_bom(SEED), "total", Decimal(80), today=TODAY) == crlf_bom(expected)
    assert set_budget(SEED.rstrip("\n"), "total", Decimal(80), today=TODAY) == expected


@pytest.mark.parametrize(
    ("amount", "cell"),
    [("50", "$50"), ("50.00", "$50"), ("12.5", "$12.50"), ("1E+3", "$1000"), ("0.125", "$0.125")],
)
def test_amounts_are_written_without_noise(amount: str, cell: str) -> None:
    new = set_budget(SEED, "openai", Decimal(amount), today=TODAY)
    assert f"| openai | {cell} |" in new
    assert parse_routing_text(new).budgets["openai"].monthly_limit == Decimal(amount)


BUDGETS = ROUTES + (
    "\n"
    "## Budgets\n"
    "\n"
    "| Provider | Monthly limit | Alerts | At 100% |\n"
    "|---|---|---|---|\n"
    "| Claude | **$20** | 80% | local only |\n"
    "\n"
    "Reviewed monthly.\n"
)


@pytest.mark.parametrize("scope", ["anthropic", "Claude"])
def test_an_existing_budget_row_is_updated(scope: str) -> None:
    new = set_budget(BUDGETS, scope, Decimal("35.5"), today=TODAY)
    assert changed_lines(BUDGETS, new) == {11: "| Claude | $35.50 | 80% | local only |\n"}
    budget = parse_routing_text(new).budgets["anthropic"]
    assert (budget.monthly_limit, budget.thresholds) == (Decimal("35.5"), (80,))


def test_a_new_budget_row_goes_after_the_last_row() -> None:
    new = set_budget(BUDGETS, "total", Decimal(100), today=TODAY)
    lines = new.splitlines()
    assert lines[10:13] == [
        "| Claude | **$20** | 80% | local only |",
        "| total | $100 | 50%, 80%, 100% | continue |",
        "",
    ]
    assert "\n".join(lines[:11] + lines[12:]) + "\n" == BUDGETS
    assert parse_routing_text(new).budgets["total"].monthly_limit == Decimal(100)


def test_a_new_budget_row_follows_the_tables_own_style() -> None:
    text = ROUTES + (
        "\n## Budgets\n\n"
        "Scope     | Limit | At limit\n"
        "----------|-------|---------\n"
        "anthropic | $20   | warn"
    )
    new = set_budget(text, "openai", Decimal(50), today=TODAY)
    assert new == text + "\nopenai    | $50   | continue"


def test_a_budgets_table_without_rows_gets_its_first_row_after_the_delimiter() -> None:
    text = ROUTES + "\n## Budgets\n\n| Scope | Limit |\n|--|--|\n\nMore prose.\n"
    new = set_budget(text, "all", Decimal("9.99"), today=TODAY)
    assert new == text.replace("|--|--|\n", "|--|--|\n| total | $9.99 |\n")


def test_a_budget_row_can_be_changed_like_any_cell() -> None:
    new = edit(BUDGETS, CellChange("Budgets", "anthropic", "limit", "$20", "$25"))
    assert parse_routing_text(new).budgets["anthropic"].monthly_limit == Decimal(25)


@pytest.mark.parametrize(
    ("scope", "amount", "message"),
    [
        ("google", Decimal(5), "unknown budget scope 'google'"),
        ("openai", Decimal(0), "over \\$0"),
        ("openai", Decimal(-5), "over \\$0"),
        ("openai", Decimal("NaN"), "over \\$0"),
    ],
)
def test_a_bad_budget_is_refused(scope: str, amount: Decimal, message: str) -> None:
    with pytest.raises(EditError, match=message):
        set_budget(SEED, scope, amount, today=TODAY)


# ---------------------------------------------------------------------------------------------
# unified_diff


def test_unified_diff_shows_the_changed_lines() -> None:
    diff = unified_diff(SEED, edit(SEED, *SWAP_CODE_REVIEW), "model-routing.md")
    assert diff.startswith("--- a/model-routing.md\n+++ b/model-routing.md\n")
    assert "\n-| Code review | sonnet | codex | Different models" in diff
    assert "\n+| Code review | codex | sonnet | Different models" in diff
    assert "\n-**Last updated**: 2026-02-02\n+**Last updated**: 2026-03-14\n" in diff
    assert unified_diff(SEED, SEED, "model-routing.md") == ""


def test_a_cell_naming_a_model_by_its_id_still_matches_its_alias() -> None:
    text = default_routing_text().replace(
        "| Code review | sonnet | codex |", "| Code review | claude-sonnet-5-5 | codex |"
    )
    changes = [
        CellChange("Routing Table", "Code review", "primary", "sonnet", "codex"),
        CellChange("Routing Table", "Code review", "fallback", "codex", "sonnet"),
    ]
    edited = apply_changes(text, changes, today=TODAY)
    assert "| Code review | codex | sonnet |" in edited
    with pytest.raises(EditError, match="reads 'claude-sonnet-5-5' now, not 'opus'"):
        apply_changes(
            text, [CellChange("Routing Table", "Code review", "primary", "opus", "x")], today=TODAY
        )

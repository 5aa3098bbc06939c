"""The routing file: the seed loads exactly, hand-written Markdown is tolerated, and every
problem is reported with its file, line, section, row and column."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cortexd.routing.catalog import Api, Provider
from cortexd.routing.errors import CortexError, Problem, RoutingFileError
from cortexd.routing.routing_file.parse import (
    catalog_for,
    load_routing_file,
    parse_routing_text,
)
from cortexd.routing.table import (
    BudgetPolicy,
    Mode,
    RoutingTable,
    Toggle,
    WorkflowKind,
)

# ---------------------------------------------------------------------------------------------
# helpers


def line_of(text: str, fragment: str) -> int:
    """The 1-based line number of the first line of `text` containing `fragment`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the text")


def errors_of(text: str, source: str = "model-routing.md") -> RoutingFileError:
    """The RoutingFileError that parsing `text` raises."""
    with pytest.raises(RoutingFileError) as info:
        parse_routing_text(text, source=source)
    return info.value


def only_problem(text: str) -> Problem:
    err = errors_of(text)
    assert len(err.problems) == 1, err
    return err.problems[0]


ROUTES = (
    "## Routing Table\n"
    "\n"
    "| Task Type | Primary | Fallback |\n"
    "|---|---|---|\n"
    "| Code generation | sonnet | codex |\n"
    "| Security audit | opus | — |\n"
)


def routes_with(primary: str = "sonnet", fallback: str = "codex") -> str:
    return (
        "## Routing Table\n\n"
        "| Task Type | Primary | Fallback |\n"
        "|---|---|---|\n"
        f"| Code generation | {primary} | {fallback} |\n"
    )


def with_section(body: str, section: str) -> str:
    return body.rstrip("\n") + "\n\n" + section


SEED_CHAINS = {
    "Quick capture / filing": ("haiku", "sonnet"),
    "Meeting summary": ("sonnet", "opus"),
    "Complex reasoning": ("opus", "gpt-4o"),
    "Code generation": ("sonnet", "codex"),
    "Code review": ("sonnet", "codex"),
    "Content drafting": ("sonnet",),
    "Research / analysis": ("opus", "gpt-4o"),
    "Classification / routing": ("haiku", "sonnet"),
    "Bulk operations": ("haiku",),
    "Security audit": ("opus",),
    "Vibe coding (interactive)": ("codex", "sonnet"),
}

SEED_LOCAL = {
    "Quick capture / filing": ("llama3.1:8b", ("haiku",)),
    "Classification / routing": ("llama3.1:8b", ("haiku",)),
    "Code generation": ("qwen2.5-coder:14b", ("codex", "sonnet")),
    "General agent work": ("qwen2.5:14b", ("sonnet",)),
    "Embeddings": ("nomic-embed-text", ()),
    "Bulk operations": ("llama3.1:8b", ("haiku",)),
}


@pytest.fixture(scope="module")
def seed_table(seed_text: str) -> RoutingTable:
    return parse_routing_text(seed_text, source="model-routing.md")


# ---------------------------------------------------------------------------------------------
# the seed loads exactly as written


def test_seed_has_the_eleven_routing_table_task_types_in_order(seed_table: RoutingTable) -> None:
    assert list(seed_table.routes) == list(SEED_CHAINS)


@pytest.mark.parametrize(("task", "chain"), SEED_CHAINS.items())
def test_seed_routing_table_chain(seed_table: RoutingTable, task: str, chain: tuple) -> None:
    assert seed_table.routes[task].chain == chain


def test_seed_emphasised_codex_primary_is_plain_codex(seed_table: RoutingTable) -> None:
    route = seed_table.routes["Vibe coding (interactive)"]
    assert route.primary == "codex"
    assert "*" not in "".join(route.chain)


def test_seed_em_dash_fallback_means_no_fallback(seed_table: RoutingTable) -> None:
    assert seed_table.routes["Content drafting"].chain == ("sonnet",)
    assert seed_table.routes["Security audit"].chain == ("opus",)


def test_seed_route_rows_carry_their_line_and_notes(
    seed_table: RoutingTable, seed_text: str
) -> None:
    route = seed_table.routes["Code generation"]
    assert route.line == line_of(seed_text, "| Code generation | sonnet |")
    assert route.notes.startswith("Claude for most code")
    assert route.local_only is False


def test_seed_has_six_local_rows(seed_table: RoutingTable) -> None:
    assert list(seed_table.local) == list(SEED_LOCAL)


@pytest.mark.parametrize(("task", "expected"), SEED_LOCAL.items())
def test_seed_local_row(seed_table: RoutingTable, task: str, expected: tuple) -> None:
    model, fallback = expected
    row = seed_table.local[task]
    assert (row.model, row.fallback, row.toggle) == (model, fallback, Toggle.AUTO)


def test_seed_local_row_slash_fallback_is_a_chain(seed_table: RoutingTable) -> None:
    assert seed_table.local["Code generation"].fallback == ("codex", "sonnet")


@pytest.mark.parametrize("task", ["General agent work", "Embeddings"])
def test_seed_task_types_only_in_local_table_are_valid(seed_table: RoutingTable, task: str) -> None:
    assert task not in seed_table.routes
    assert task in seed_table.task_types()
    assert seed_table.find_task(task.lower()) == task


def test_seed_task_types_include_debugging_from_the_workflow(seed_table: RoutingTable) -> None:
    assert seed_table.find_task("debugging / tracing") == "Debugging / tracing"


def test_seed_providers_table(seed_table: RoutingTable) -> None:
    names = [p.name for p in seed_table.providers]
    assert names == ["Anthropic", "OpenAI", "Local"]
    assert seed_table.providers[0].models == "Claude Opus, Sonnet, Haiku"


def test_seed_ollama_host_from_providers_table(seed_table: RoutingTable) -> None:
    assert seed_table.ollama_host == "http://localhost:11434"


def test_seed_coding_workflow_rules(seed_table: RoutingTable) -> None:
    kinds = [r.kind for r in seed_table.workflow]
    assert kinds == [
        WorkflowKind.CLAUDE_CODE_CLIENT,
        WorkflowKind.QUEUE,
        WorkflowKind.REVIEW_OPPOSITE,
        WorkflowKind.INTERACTIVE,
        WorkflowKind.BATCH,
        WorkflowKind.TASK,
    ]


@pytest.mark.parametrize(
    ("kind", "models"),
    [
        (WorkflowKind.CLAUDE_CODE_CLIENT, ("sonnet", "opus")),
        (WorkflowKind.QUEUE, ("codex",)),
        (WorkflowKind.BATCH, ("codex",)),
        (WorkflowKind.TASK, ("opus",)),
    ],
)
def test_seed_coding_workflow_rule_models(
    seed_table: RoutingTable, kind: WorkflowKind, models: tuple
) -> None:
    rule = seed_table.rule(kind)
    assert rule is not None
    assert rule.models == models


def test_seed_debugging_rule_is_its_own_task(seed_table: RoutingTable) -> None:
    rule = seed_table.rule(WorkflowKind.TASK)
    assert rule is not None
    assert rule.scenario == "Debugging / tracing"


def test_seed_mode_is_static_rules_with_user_override(seed_table: RoutingTable) -> None:
    assert seed_table.mode is Mode.STATIC_WITH_OVERRIDE


def test_seed_loads_without_warnings(seed_table: RoutingTable) -> None:
    assert seed_table.warnings == ()


def test_seed_has_no_optional_sections(seed_table: RoutingTable) -> None:
    assert seed_table.aliases == ()
    assert dict(seed_table.local_files) == {}
    assert dict(seed_table.budgets) == {}
    assert dict(seed_table.cross_validation) == {}


def test_seed_loads_from_disk_with_its_path_as_source(seed_text: str, write_routing) -> None:
    path = write_routing(seed_text)
    table = load_routing_file(path)
    assert table.source == str(path)
    assert {t: r.chain for t, r in table.routes.items()} == SEED_CHAINS


# ---------------------------------------------------------------------------------------------
# tolerance of hand-written, editor-saved Markdown


def chains(table: RoutingTable) -> dict[str, tuple[str, ...]]:
    return {task: route.chain for task, route in table.routes.items()}


def test_utf8_bom_is_tolerated_in_text(seed_text: str) -> None:
    assert chains(parse_routing_text("\ufeff" + seed_text)) == SEED_CHAINS


def test_utf8_bom_is_tolerated_on_disk(seed_text: str, write_routing) -> None:
    path = write_routing(b"\xef\xbb\xbf" + seed_text.encode("utf-8"))
    table = load_routing_file(path)
    assert chains(table) == SEED_CHAINS
    assert table.mode is Mode.STATIC_WITH_OVERRIDE


def test_crlf_line_endings_load_the_same(seed_text: str) -> None:
    table = parse_routing_text(seed_text.replace("\n", "\r\n"))
    assert chains(table) == SEED_CHAINS
    assert len(table.local) == 6
    assert len(table.workflow) == 6


def test_crlf_keeps_error_line_numbers_right(seed_text: str) -> None:
    bad = seed_text.replace("| Meeting summary | sonnet |", "| Meeting summary | sonet |")
    problem = only_problem(bad.replace("\n", "\r\n"))
    assert problem.line == line_of(seed_text, "| Meeting summary |")


def test_bom_and_crlf_keep_error_line_numbers_right(seed_text: str, write_routing) -> None:
    bad = seed_text.replace("| Security audit | opus |", "| Security audit | opsu |")
    path = write_routing(b"\xef\xbb\xbf" + bad.replace("\n", "\r\n").encode("utf-8"))
    with pytest.raises(RoutingFileError) as info:
        load_routing_file(path)
    assert [p.line for p in info.value.problems] == [line_of(seed_text, "| Security audit |")]


def test_tables_without_outer_pipes() -> None:
    text = (
        "## Routing Table\n\n"
        "Task Type | Primary | Fallback\n"
        "--- | --- | ---\n"
        "Code generation | sonnet | codex\n"
        "Security audit | opus | —\n"
    )
    assert chains(parse_routing_text(text)) == {
        "Code generation": ("sonnet", "codex"),
        "Security audit": ("opus",),
    }


def test_odd_spacing_and_alignment_marks() -> None:
    text = (
        "## Routing Table\n\n"
        "|Task Type|   Primary   |Fallback    |\n"
        "| :--- |:---:|   ---: |\n"
        "|   Code   generation|sonnet|     codex|\n"
    )
    table = parse_routing_text(text)
    assert table.find_task("Code generation") is not None
    assert list(table.routes.values())[0].chain == ("sonnet", "codex")


def test_indented_table_is_still_a_table() -> None:
    text = "## Routing Table\n\n  | Task Type | Primary |\n  |---|---|\n  | A | sonnet |\n"
    assert chains(parse_routing_text(text)) == {"A": ("sonnet",)}


def test_columns_in_another_order() -> None:
    text = (
        "## Routing Table\n\n"
        "| Notes | Fallback | Primary | Task Type |\n"
        "|---|---|---|---|\n"
        "| hard ones | gpt-4o | opus | Complex reasoning |\n"
    )
    route = parse_routing_text(text).routes["Complex reasoning"]
    assert route.chain == ("opus", "gpt-4o")
    assert route.notes == "hard ones"


def test_header_names_in_any_case_and_with_emphasis() -> None:
    text = (
        "## Routing Table\n\n"
        "| **TASK TYPE** | *primary* | fallback MODEL |\n"
        "|---|---|---|\n"
        "| A | sonnet | opus |\n"
    )
    assert chains(parse_routing_text(text)) == {"A": ("sonnet", "opus")}


@pytest.mark.parametrize(
    "heading",
    [
        "### ROUTING TABLE",
        "# routing table",
        "#### Routing table",
        "## **Routing Table**",
        "## Routing Table ##",
        "Routing Table\n=============",
    ],
)
def test_headings_at_any_level_and_case(heading: str) -> None:
    text = f"{heading}\n\n| Task Type | Primary |\n|---|---|\n| A | haiku |\n"
    assert chains(parse_routing_text(text)) == {"A": ("haiku",)}


def test_heading_level_and_case_of_every_seed_section(seed_text: str) -> None:
    shouted = seed_text.replace("## Routing Table", "### ROUTING TABLE")
    shouted = shouted.replace("## Local Models", "#### local models")
    shouted = shouted.replace("## Available Providers", "# AVAILABLE PROVIDERS")
    shouted = shouted.replace("## Coding Workflow", "### coding workflow")
    table = parse_routing_text(shouted)
    assert chains(table) == SEED_CHAINS
    assert len(table.local) == 6
    assert len(table.workflow) == 6
    assert table.ollama_host == "http://localhost:11434"


@pytest.mark.parametrize("cell", ["**codex**", "*codex*", "`codex`", "__codex__", "_codex_"])
def test_emphasis_and_code_marks_around_model_names(cell: str) -> None:
    text = routes_with(primary=cell, fallback=cell.replace("codex", "sonnet"))
    assert chains(parse_routing_text(text)) == {"Code generation": ("codex", "sonnet")}


def test_emphasis_around_a_whole_chain() -> None:
    text = routes_with(fallback="**codex** / `haiku`")
    assert chains(parse_routing_text(text)) == {"Code generation": ("sonnet", "codex", "haiku")}


@pytest.mark.parametrize(
    "cell", ["—", "–", "-", "--", "n/a", "N/A", "none", "None", "", "no fallback"]
)
def test_no_fallback_spellings(cell: str) -> None:
    assert chains(parse_routing_text(routes_with(fallback=cell))) == {
        "Code generation": ("sonnet",)
    }


def test_missing_fallback_column_means_no_fallback() -> None:
    text = "## Routing Table\n\n| Task Type | Primary |\n|---|---|\n| A | opus |\n"
    assert chains(parse_routing_text(text)) == {"A": ("opus",)}


@pytest.mark.parametrize(
    "cell", ["codex / sonnet", "codex/sonnet", "codex, sonnet", "codex → sonnet", "codex -> sonnet"]
)
def test_fallback_chain_spellings(cell: str) -> None:
    assert chains(parse_routing_text(routes_with(primary="haiku", fallback=cell))) == {
        "Code generation": ("haiku", "codex", "sonnet")
    }


def test_model_id_with_slashes_stays_whole() -> None:
    table = parse_routing_text(routes_with(primary="hf.co/org/model:Q4", fallback="sonnet"))
    assert table.routes["Code generation"].chain == ("hf.co/org/model:Q4", "sonnet")


def test_repeated_model_in_primary_and_fallback_appears_once() -> None:
    table = parse_routing_text(routes_with(primary="sonnet", fallback="sonnet / opus"))
    assert table.routes["Code generation"].chain == ("sonnet", "opus")


@pytest.mark.parametrize(
    ("cell", "name"),
    [("Claude Opus", "opus"), ("gpt4o", "gpt-4o"), ("GPT Codex", "codex"), ("SONNET", "sonnet")],
)
def test_model_synonyms_in_cells_resolve_to_the_alias(cell: str, name: str) -> None:
    table = parse_routing_text(routes_with(primary=cell, fallback="—"))
    assert table.routes["Code generation"].chain == (name,)


def test_concrete_model_id_not_in_catalog_is_accepted() -> None:
    table = parse_routing_text(routes_with(primary="claude-sonnet-4-5", fallback="—"))
    assert table.routes["Code generation"].chain == ("claude-sonnet-4-5",)


def test_non_breaking_spaces_in_cells_are_tolerated() -> None:
    text = routes_with(primary="claude\u00a0opus\u00a0", fallback="\u00a0sonnet")
    assert chains(parse_routing_text(text)) == {"Code generation": ("opus", "sonnet")}


def test_a_link_around_a_model_name_reads_as_the_name() -> None:
    text = routes_with(primary="[sonnet](https://www.anthropic.com)", fallback="—")
    assert chains(parse_routing_text(text)) == {"Code generation": ("sonnet",)}


def test_blank_rows_are_skipped() -> None:
    text = (
        "## Routing Table\n\n| Task Type | Primary |\n|---|---|\n"
        "| A | sonnet |\n| | |\n| B | opus |\n"
    )
    assert chains(parse_routing_text(text)) == {"A": ("sonnet",), "B": ("opus",)}


def test_table_right_under_a_sentence_is_read() -> None:
    text = "## Routing Table\nMy table:\n| Task Type | Primary |\n|---|---|\n| A | sonnet |\n"
    assert chains(parse_routing_text(text)) == {"A": ("sonnet",)}


def test_future_in_a_heading_is_prose() -> None:
    text = "## Routing Table (future)\n\n| Task Type | Primary |\n|---|---|\n| A | opus |\n"
    assert chains(parse_routing_text(text)) == {"A": ("opus",)}


def test_future_in_local_models_heading_is_prose(seed_table: RoutingTable) -> None:
    # The seed's "## Local Models (Future — When Hardware Available)" is the local table.
    assert len(seed_table.local) == 6


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Local (future)", "Local"), ("**Ollama (planned)**", "Ollama"), ("Local", "Local")],
)
def test_future_in_a_provider_name_is_prose(name: str, expected: str) -> None:
    text = with_section(
        ROUTES,
        "## Available Providers\n\n| Provider | Models | API |\n|---|---|---|\n"
        f"| {name} | Ollama models | localhost:11434 |\n",
    )
    table = parse_routing_text(text)
    assert [p.name for p in table.providers] == [expected]
    assert table.ollama_host == "http://localhost:11434"


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("192.168.1.20:11500", "http://192.168.1.20:11500"),
        ("http://gpu-box.lan:11434", "http://gpu-box.lan:11434"),
        ("https://ollama.example.com:8443", "https://ollama.example.com:8443"),
        ("`localhost:12345`", "http://localhost:12345"),
    ],
)
def test_ollama_row_with_another_address(seed_text: str, address: str, host: str) -> None:
    text = seed_text.replace("| localhost:11434 |", f"| {address} |")
    assert parse_routing_text(text).ollama_host == host


def test_ollama_row_named_ollama_with_address_in_notes() -> None:
    text = with_section(
        ROUTES,
        "## Providers\n\n| Provider | Notes |\n|---|---|\n| Ollama | runs on 10.0.0.5:11434 |\n",
    )
    assert parse_routing_text(text).ollama_host == "http://10.0.0.5:11434"


def test_no_local_provider_row_means_no_ollama_host(seed_text: str) -> None:
    text = seed_text.replace(
        "| **Local (future)** | Ollama models | localhost:11434 | When GPU hardware available |\n",
        "",
    )
    table = parse_routing_text(text)
    assert len(table.providers) == 2
    assert table.ollama_host is None


@pytest.mark.parametrize(
    ("line", "mode"),
    [
        ("**Mode**: Static rules + user override", Mode.STATIC_WITH_OVERRIDE),
        ("**Mode**: Static rules", Mode.STATIC),
        ("**Mode:** Static rules", Mode.STATIC),
        ("__Mode__: static RULES", Mode.STATIC),
        ("- **Mode**: Static rules", Mode.STATIC),
        ("**Mode**: STATIC RULES + USER OVERRIDE", Mode.STATIC_WITH_OVERRIDE),
        ("**Mode**: Adaptive", Mode.ADAPTIVE),
    ],
)
def test_mode_line_is_read(line: str, mode: Mode) -> None:
    assert parse_routing_text(f"{line}\n\n{ROUTES}").mode is mode


def test_no_mode_line_means_static_rules_with_user_override() -> None:
    assert parse_routing_text(ROUTES).mode is Mode.STATIC_WITH_OVERRIDE


def test_plain_mode_line_without_bold_is_not_silently_ignored() -> None:
    try:
        table = parse_routing_text(f"Mode: Static rules\n\n{ROUTES}")
    except RoutingFileError:
        return  # reporting it would be fine too
    assert table.mode is Mode.STATIC


def test_unknown_sections_and_prose_are_ignored(seed_text: str) -> None:
    extra = (
        "Some prose before any heading.\n\n"
        "| Orphan | Table |\n|---|---|\n| x | y |\n\n"
        + seed_text
        + "\n## My Notes\n\nI like **opus** a lot; sonet is a typo here but only prose.\n\n"
        "| Foo | Bar |\n|---|---|\n| sonet | whatever |\n"
    )
    table = parse_routing_text(extra)
    assert chains(table) == SEED_CHAINS
    assert table.warnings == ()


def test_local_only_column_marks_rows() -> None:
    text = (
        "## Routing Table\n\n"
        "| Task Type | Primary | Local only |\n|---|---|---|\n"
        "| Private notes | haiku | yes |\n"
        "| Drafts | sonnet | ✓ |\n"
        "| Public | opus | |\n"
    )
    table = parse_routing_text(text)
    assert [r.local_only for r in table.routes.values()] == [True, True, False]


@pytest.mark.parametrize(
    ("cell", "toggle"),
    [
        ("on", Toggle.ON),
        ("OFF", Toggle.OFF),
        ("auto", Toggle.AUTO),
        ("", Toggle.AUTO),
        ("yes", Toggle.ON),
        ("no", Toggle.OFF),
        ("forced on", Toggle.ON),
    ],
)
def test_local_models_enabled_column(cell: str, toggle: Toggle) -> None:
    text = with_section(
        ROUTES,
        "## Local Models\n\n| Task Type | Local Model | Cloud Fallback | Enabled |\n"
        f"|---|---|---|---|\n| Code generation | qwen2.5-coder:14b | sonnet | {cell} |\n",
    )
    assert parse_routing_text(text).local["Code generation"].toggle is toggle


def test_unknown_coding_workflow_scenario_is_a_warning_not_an_error() -> None:
    text = with_section(
        ROUTES,
        "## Coding Workflow\n\n| Scenario | Tool | Why |\n|---|---|---|\n"
        "| Rubber-ducking at night | Claude | calm |\n",
    )
    table = parse_routing_text(text, source="r.md")
    assert table.workflow == ()
    assert len(table.warnings) == 1
    warning = table.warnings[0]
    assert warning.severity == "warning"
    assert warning.line == line_of(text, "Rubber-ducking")
    assert "warning:" in warning.describe("r.md")


# ---------------------------------------------------------------------------------------------
# optional sections: Model Aliases


ALIASES_HEAD = "## Model Aliases\n\n| Alias | Provider | Model ID | Base URL |\n|---|---|---|---|\n"


def test_alias_is_usable_in_the_routing_table() -> None:
    text = with_section(
        routes_with(primary="deepseek", fallback="sonnet"),
        ALIASES_HEAD + "| deepseek | openai | deepseek-chat | https://api.deepseek.com/v1 |\n",
    )
    table = parse_routing_text(text)
    assert table.routes["Code generation"].chain == ("deepseek", "sonnet")
    spec = catalog_for(table).find("deepseek")
    assert spec is not None
    assert (spec.provider, spec.model_id, spec.base_url) == (
        Provider.OPENAI,
        "deepseek-chat",
        "https://api.deepseek.com/v1",
    )


def test_alias_entry_keeps_its_line() -> None:
    text = with_section(ROUTES, ALIASES_HEAD + "| sonnet | anthropic | claude-sonnet-4-5 | |\n")
    table = parse_routing_text(text)
    (entry,) = table.aliases
    assert (entry.alias, entry.provider, entry.model_id, entry.base_url) == (
        "sonnet",
        "anthropic",
        "claude-sonnet-4-5",
        None,
    )
    assert entry.line == line_of(text, "| sonnet | anthropic |")


def test_alias_overrides_a_builtin_model(seed_text: str) -> None:
    text = with_section(seed_text, ALIASES_HEAD + "| sonnet | Anthropic | claude-sonnet-4-5 | |\n")
    table = parse_routing_text(text)
    spec = catalog_for(table).find("sonnet")
    assert spec is not None
    assert (spec.provider, spec.model_id, spec.api) == (
        Provider.ANTHROPIC,
        "claude-sonnet-4-5",
        Api.MESSAGES,
    )
    assert table.routes["Meeting summary"].chain == ("sonnet", "opus")


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("Claude", Provider.ANTHROPIC),
        ("OpenAI", Provider.OPENAI),
        ("ollama", Provider.OLLAMA),
        ("llama.cpp", Provider.LLAMACPP),
        ("llama-cpp", Provider.LLAMACPP),
    ],
)
def test_alias_provider_spellings(provider: str, expected: Provider) -> None:
    text = with_section(ROUTES, ALIASES_HEAD + f"| mine | {provider} | some-model:1b | |\n")
    spec = catalog_for(parse_routing_text(text)).find("mine")
    assert spec is not None
    assert spec.provider is expected


@pytest.mark.parametrize(
    ("model_id", "api"),
    [("gpt-5.1-codex", Api.RESPONSES), ("gpt-4.1", Api.CHAT)],
)
def test_openai_alias_api_follows_the_model_id(model_id: str, api: Api) -> None:
    text = with_section(ROUTES, ALIASES_HEAD + f"| mine | openai | {model_id} | |\n")
    spec = catalog_for(parse_routing_text(text)).find("mine")
    assert spec is not None
    assert spec.api is api


def test_local_alias_may_serve_a_local_row() -> None:
    text = with_section(
        ROUTES,
        ALIASES_HEAD
        + "| tiny | ollama | qwen3:0.6b | |\n\n"
        + "## Local Models\n\n| Task Type | Local Model | Cloud Fallback |\n|---|---|---|\n"
        + "| Code generation | tiny | sonnet |\n",
    )
    table = parse_routing_text(text)
    assert table.local["Code generation"].model == "tiny"


def test_alias_context_window_column_is_read() -> None:
    text = with_section(
        ROUTES,
        "## Model Aliases\n\n| Alias | Provider | Model ID | Context Window |\n|---|---|---|---|\n"
        "| big | openai | my-big-model | 200000 |\n",
    )
    spec = catalog_for(parse_routing_text(text)).find("big")
    assert spec is not None
    assert spec.context_window == 200_000


def test_alias_to_a_known_model_id_gets_its_context_window() -> None:
    text = with_section(ROUTES, ALIASES_HEAD + "| sonnet | anthropic | claude-sonnet-4-5 | |\n")
    catalog = catalog_for(parse_routing_text(text))
    alias = catalog.find("sonnet")
    placed = catalog.resolve("claude-sonnet-4-5")
    assert alias is not None and placed is not None
    assert placed.context_window == 200_000
    assert alias.context_window == placed.context_window


def test_alias_in_another_case_replaces_the_builtin() -> None:
    text = with_section(ROUTES, ALIASES_HEAD + "| Sonnet | anthropic | claude-sonnet-4-5 | |\n")
    names = catalog_for(parse_routing_text(text)).names()
    assert [n for n in names if n.casefold() == "sonnet"] == ["sonnet"]


def test_alias_override_keeps_the_builtin_synonyms(seed_text: str) -> None:
    text = seed_text.replace("| Meeting summary | sonnet |", "| Meeting summary | Claude Sonnet |")
    text = with_section(text, ALIASES_HEAD + "| sonnet | anthropic | claude-sonnet-4-5 | |\n")
    assert parse_routing_text(text).routes["Meeting summary"].chain == ("sonnet", "opus")


# ---------------------------------------------------------------------------------------------
# optional sections: Local Model Files


GGUF_HEAD = "## Local Model Files\n\n| Model | File |\n|---|---|\n"


def test_relative_gguf_path_is_resolved_against_the_file_folder(write_routing) -> None:
    path = write_routing(
        with_section(ROUTES, GGUF_HEAD + "| qwen2.5:14b | models/qwen.gguf |\n"),
        name="conf/model-routing.md",
    )
    gguf = path.parent / "models" / "qwen.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    table = load_routing_file(path)
    assert dict(table.local_files) == {"qwen2.5:14b": gguf}
    assert table.warnings == ()


def test_gguf_file_makes_the_model_llamacpp(write_routing) -> None:
    path = write_routing(with_section(ROUTES, GGUF_HEAD + "| my-gguf | my.gguf |\n"))
    (path.parent / "my.gguf").write_bytes(b"GGUF")
    spec = catalog_for(load_routing_file(path)).find("my-gguf")
    assert spec is not None
    assert spec.provider is Provider.LLAMACPP
    assert spec.gguf_path == path.parent / "my.gguf"


def test_absolute_gguf_path_is_kept(tmp_path: Path) -> None:
    gguf = tmp_path / "abs.gguf"
    gguf.write_bytes(b"GGUF")
    table = parse_routing_text(
        with_section(ROUTES, GGUF_HEAD + f"| m | {gguf} |\n"), base_dir=tmp_path / "elsewhere"
    )
    assert table.local_files["m"] == gguf


def test_missing_gguf_file_is_a_warning_not_an_error(write_routing) -> None:
    text = with_section(ROUTES, GGUF_HEAD + "| qwen2.5:14b | models/nowhere.gguf |\n")
    path = write_routing(text)
    table = load_routing_file(path)
    assert table.local_files["qwen2.5:14b"] == path.parent / "models" / "nowhere.gguf"
    (warning,) = table.warnings
    assert warning.severity == "warning"
    assert warning.section == "Local Model Files"
    assert warning.line == line_of(text, "nowhere.gguf")
    assert "not found" in warning.message


def test_gguf_row_without_a_path_is_an_error() -> None:
    problem = only_problem(with_section(ROUTES, GGUF_HEAD + "| qwen2.5:14b | |\n"))
    assert problem.section == "Local Model Files"
    assert "path" in problem.message


# ---------------------------------------------------------------------------------------------
# optional sections: Budgets


def budgets(row: str, header: str = "| Provider | Monthly Limit | Alerts | At 100% |") -> str:
    return with_section(ROUTES, f"## Budgets\n\n{header}\n|---|---|---|---|\n{row}\n")


@pytest.mark.parametrize(
    ("cell", "amount"),
    [
        ("$50", Decimal("50")),
        ("1,000 USD", Decimal("1000")),
        ("USD 20", Decimal("20")),
        ("$1,250.50", Decimal("1250.50")),
        ("75", Decimal("75")),
        ("12.5 dollars", Decimal("12.5")),
    ],
)
def test_budget_amounts(cell: str, amount: Decimal) -> None:
    table = parse_routing_text(budgets(f"| Anthropic | {cell} | | |"))
    assert table.budgets["anthropic"].monthly_limit == amount


@pytest.mark.parametrize(
    ("cell", "marks"),
    [
        ("50%, 80%, 100%", (50, 80, 100)),
        ("80%, 50%,100 %", (50, 80, 100)),
        ("50 / 80 / 100", (50, 80, 100)),
        ("75%", (75,)),
        ("", (50, 80, 100)),
    ],
)
def test_budget_thresholds(cell: str, marks: tuple) -> None:
    table = parse_routing_text(budgets(f"| OpenAI | $20 | {cell} | |"))
    assert table.budgets["openai"].thresholds == marks


@pytest.mark.parametrize(
    ("cell", "policy"),
    [
        ("continue", BudgetPolicy.CONTINUE),
        ("fallback", BudgetPolicy.FALLBACK),
        ("local", BudgetPolicy.LOCAL),
        ("refuse", BudgetPolicy.REFUSE),
        ("Refuse", BudgetPolicy.REFUSE),
        ("warn", BudgetPolicy.CONTINUE),
        ("keep going", BudgetPolicy.CONTINUE),
        ("use fallback", BudgetPolicy.FALLBACK),
        ("local only", BudgetPolicy.LOCAL),
        ("go local", BudgetPolicy.LOCAL),
        ("block", BudgetPolicy.REFUSE),
        ("stop", BudgetPolicy.REFUSE),
        ("", BudgetPolicy.CONTINUE),
    ],
)
def test_budget_policies_and_synonyms(cell: str, policy: BudgetPolicy) -> None:
    table = parse_routing_text(budgets(f"| Total | $100 | 80% | {cell} |"))
    assert table.budgets["total"].at_limit is policy


@pytest.mark.parametrize(
    ("cell", "scope"),
    [
        ("Anthropic", "anthropic"),
        ("Claude", "anthropic"),
        ("OPENAI", "openai"),
        ("Total", "total"),
        ("all", "total"),
        ("Overall", "total"),
    ],
)
def test_budget_scopes(cell: str, scope: str) -> None:
    table = parse_routing_text(budgets(f"| {cell} | $10 | | |"))
    assert list(table.budgets) == [scope]
    assert table.budgets[scope].scope == scope


def test_budget_row_keeps_its_line() -> None:
    text = budgets("| Anthropic | $50 | 50%, 80%, 100% | fallback |")
    budget = parse_routing_text(text).budgets["anthropic"]
    assert budget.line == line_of(text, "| Anthropic | $50 |")


# ---------------------------------------------------------------------------------------------
# optional sections: Cross-Validation


def cross(row: str) -> str:
    return with_section(
        ROUTES, f"## Cross-Validation\n\n| Task Type | Second Opinion |\n|---|---|\n{row}\n"
    )


def test_cross_validation_rows() -> None:
    table = parse_routing_text(
        cross("| Security audit | gpt-4o |\n| code generation | **codex** |")
    )
    assert {t: c.model for t, c in table.cross_validation.items()} == {
        "Security audit": "gpt-4o",
        "Code generation": "codex",
    }


@pytest.mark.parametrize("task", ["General agent work", "Debugging / tracing"])
def test_cross_validation_accepts_task_types_outside_the_routing_table(
    seed_text: str, task: str
) -> None:
    text = with_section(
        seed_text, f"## Second Opinions\n\n| Task Type | Model |\n|---|---|\n| {task} | gpt-4o |\n"
    )
    assert parse_routing_text(text).cross_validation[task].model == "gpt-4o"


# ---------------------------------------------------------------------------------------------
# errors: every problem located, with a suggestion


def test_unknown_model_error_names_file_line_section_row_column_and_suggestion(
    seed_text: str,
) -> None:
    bad = seed_text.replace("| Code generation | sonnet |", "| Code generation | sonet |")
    err = errors_of(bad, source="/home/me/model-routing.md")
    (problem,) = err.problems
    line = line_of(seed_text, "| Code generation | sonnet |")
    assert (problem.line, problem.section, problem.row, problem.column, problem.suggestion) == (
        line,
        "Routing Table",
        "Code generation",
        "Primary",
        "sonnet",
    )
    message = str(err)
    assert f"/home/me/model-routing.md:{line}:" in message
    assert "unknown model 'sonet'" in message
    assert "Routing Table" in message
    assert "'Code generation'" in message
    assert "column 'Primary'" in message
    assert "did you mean 'sonnet'" in message


def test_unknown_model_in_fallback_names_the_fallback_column() -> None:
    problem = only_problem(routes_with(fallback="sonnet / opsu"))
    assert (problem.column, problem.suggestion) == ("Fallback", "opus")
    assert "unknown model 'opsu'" in problem.message


def test_unknown_model_far_from_any_name_has_no_suggestion() -> None:
    problem = only_problem(routes_with(primary="zzzzqqq"))
    assert problem.suggestion is None
    assert "did you mean" not in problem.describe("f.md")


def test_several_errors_are_reported_together(seed_text: str) -> None:
    bad = seed_text.replace(
        "| Meeting summary | sonnet | opus |", "| Meeting summary | sonet | opus |"
    )
    bad = bad.replace("| Security audit | opus |", "| Security audit | opsu |")
    bad = bad.replace("| Code generation | qwen2.5-coder:14b |", "| Code generation | gpt-4o |")
    bad = bad.replace("**Mode**: Static rules + user override", "**Mode**: dynamic")
    err = errors_of(bad)
    assert len(err.problems) == 4
    assert [p.line for p in err.problems] == sorted(
        [
            line_of(seed_text, "**Mode**"),
            line_of(seed_text, "| Meeting summary |"),
            line_of(seed_text, "| Security audit |"),
            line_of(seed_text, "| Code generation | qwen2.5-coder:14b |"),
        ]
    )
    assert str(err).count("\n") == 4
    assert "4 problems" in str(err)


def test_errors_in_the_same_row_are_all_reported() -> None:
    err = errors_of(routes_with(primary="sonet", fallback="opsu"))
    assert [p.column for p in err.problems] == ["Primary", "Fallback"]


def test_missing_required_column() -> None:
    text = "## Routing Table\n\n| Task Type | Model |\n|---|---|\n| A | sonnet |\n"
    problem = only_problem(text)
    assert problem.section == "Routing Table"
    assert problem.line == 3
    assert "missing column 'Primary'" in problem.message
    assert "Task Type, Model" in problem.message


def test_misspelt_column_gets_a_suggestion() -> None:
    text = "## Routing Table\n\n| Task Type | Primry |\n|---|---|\n| A | sonnet |\n"
    problem = only_problem(text)
    assert problem.suggestion == "Primary"
    assert "'Primry'" in problem.message


@pytest.mark.parametrize("second", ["Code generation", "code generation", "Code-Generation"])
def test_duplicate_task_type(second: str) -> None:
    text = routes_with() + f"| {second} | opus | |\n"
    problem = only_problem(text)
    assert problem.line == 6
    assert problem.column == "Task Type"
    assert "duplicate task type" in problem.message
    assert "line 5" in problem.message


@pytest.mark.parametrize("cell", ["", "—", "n/a"])
def test_empty_primary(cell: str) -> None:
    problem = only_problem(routes_with(primary=cell, fallback="opus"))
    assert (problem.line, problem.column) == (5, "Primary")
    assert "no primary model" in problem.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("# My routing\n\nJust prose, no tables.\n", 0),
        ("## Local Models\n\n| Task Type | Local Model |\n|---|---|\n| A | llama3.1:8b |\n", 0),
        ("# Mine\n\nintro\n\n## Routing Table\n\nNothing here yet.\n", 5),
        ("", 0),
    ],
)
def test_no_routing_table_section(text: str, line: int) -> None:
    # 0: the file as a whole; otherwise the heading that has no table under it.
    problem = only_problem(text)
    assert problem.line == line
    assert "Routing Table" in problem.message


def test_unknown_mode() -> None:
    text = f"# Routing\n\n**Mode**: dynamic\n\n{ROUTES}"
    problem = only_problem(text)
    assert (problem.line, problem.section) == (3, "Mode")
    assert "unknown mode 'dynamic'" in problem.message


def test_misspelt_mode_gets_a_suggestion() -> None:
    problem = only_problem(f"**Mode**: Static rule\n\n{ROUTES}")
    assert problem.suggestion == "static rules"


@pytest.mark.parametrize("cell", ["fifty", "€50", "$0", "-5", "50 EUR", ""])
def test_bad_budget_amount(cell: str) -> None:
    text = budgets(f"| Anthropic | {cell} | | |")
    problem = only_problem(text)
    assert (problem.section, problem.row, problem.column) == (
        "Budgets",
        "anthropic",
        "Monthly Limit",
    )
    assert problem.line == line_of(text, "| Anthropic |")


@pytest.mark.parametrize("cell", ["lots", "0%", "5000%", "50%, x", "-10%"])
def test_bad_budget_threshold(cell: str) -> None:
    problem = only_problem(budgets(f"| OpenAI | $20 | {cell} | |"))
    assert (problem.section, problem.column) == ("Budgets", "Alerts")
    assert "threshold" in problem.message


def test_bad_budget_policy() -> None:
    problem = only_problem(budgets("| OpenAI | $20 | | explode |"))
    assert (problem.section, problem.column) == ("Budgets", "At 100%")
    assert "continue, fallback, local, refuse" in problem.message


def test_misspelt_budget_policy_gets_a_suggestion() -> None:
    problem = only_problem(budgets("| OpenAI | $20 | | refuze |"))
    assert problem.suggestion == "refuse"


def test_unknown_budget_scope() -> None:
    problem = only_problem(budgets("| Gemini | $20 | | |"))
    assert problem.section == "Budgets"
    assert "unknown budget scope 'Gemini'" in problem.message


def test_misspelt_budget_scope_gets_a_suggestion() -> None:
    assert only_problem(budgets("| Opnai | $20 | | |")).suggestion == "openai"


def test_duplicate_budget_scope() -> None:
    text = budgets("| Anthropic | $20 | | |\n| Claude | $30 | | |")
    problem = only_problem(text)
    assert "duplicate budget" in problem.message
    assert problem.line == line_of(text, "| Claude | $30 |")


def test_unknown_provider_in_aliases() -> None:
    text = with_section(ROUTES, ALIASES_HEAD + "| mine | antropic | claude-x | |\n")
    problem = only_problem(text)
    assert (problem.section, problem.row, problem.column, problem.suggestion) == (
        "Model Aliases",
        "mine",
        "Provider",
        "anthropic",
    )
    assert problem.line == line_of(text, "| mine |")


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "api.deepseek.com/v1", "http://", "localhost"]
)
def test_bad_base_url_in_aliases(url: str) -> None:
    problem = only_problem(
        with_section(ROUTES, ALIASES_HEAD + f"| mine | openai | m-1 | {url} |\n")
    )
    assert (problem.section, problem.row) == ("Model Aliases", "mine")
    assert "http(s) URL" in problem.message


def test_empty_model_id_in_aliases() -> None:
    problem = only_problem(with_section(ROUTES, ALIASES_HEAD + "| mine | openai | | |\n"))
    assert "empty model id" in problem.message


def test_unknown_task_type_in_cross_validation() -> None:
    text = cross("| Security audt | gpt-4o |")
    problem = only_problem(text)
    assert (problem.section, problem.column, problem.suggestion) == (
        "Cross-Validation",
        "Task Type",
        "Security audit",
    )
    assert problem.line == line_of(text, "Security audt")


def test_unknown_model_in_cross_validation() -> None:
    problem = only_problem(cross("| Security audit | gtp-4o |"))
    assert (problem.section, problem.suggestion) == ("Cross-Validation", "gpt-4o")


def test_two_models_in_cross_validation_is_an_error() -> None:
    problem = only_problem(cross("| Security audit | gpt-4o / codex |"))
    assert "exactly one" in problem.message


def test_cloud_model_in_the_local_table(seed_text: str) -> None:
    bad = seed_text.replace(
        "| Code generation | qwen2.5-coder:14b |", "| Code generation | gpt-4o |"
    )
    problem = only_problem(bad)
    assert (problem.section, problem.row, problem.column) == (
        "Local Models",
        "Code generation",
        "Local Model",
    )
    assert "cloud model" in problem.message
    assert problem.line == line_of(seed_text, "| Code generation | qwen2.5-coder:14b |")


def test_concrete_cloud_model_id_in_the_local_table(seed_text: str) -> None:
    bad = seed_text.replace(
        "| Code generation | qwen2.5-coder:14b |", "| Code generation | claude-sonnet-4-5 |"
    )
    problem = only_problem(bad)
    assert "cloud model" in problem.message


def test_two_local_models_in_one_row_is_an_error() -> None:
    text = with_section(
        ROUTES,
        "## Local Models\n\n| Task Type | Local Model |\n|---|---|\n"
        "| Code generation | llama3.1:8b / qwen2.5:14b |\n",
    )
    assert "exactly one model" in only_problem(text).message


def test_unknown_local_model_gets_a_suggestion() -> None:
    text = with_section(
        ROUTES,
        "## Local Models\n\n| Task Type | Local Model |\n|---|---|\n"
        "| Embeddings | nomic-embed-txt |\n",
    )
    assert only_problem(text).suggestion == "nomic-embed-text"


def test_bad_local_toggle() -> None:
    text = with_section(
        ROUTES,
        "## Local Models\n\n| Task Type | Local Model | Enabled |\n|---|---|---|\n"
        "| Code generation | llama3.1:8b | maybe |\n",
    )
    problem = only_problem(text)
    assert (problem.section, problem.column) == ("Local Models", "Enabled")


def test_workflow_rule_without_a_model_is_an_error() -> None:
    text = with_section(
        ROUTES,
        "## Coding Workflow\n\n| Scenario | Tool |\n|---|---|\n"
        "| Dedicated coding task dispatched from queue | Gemini CLI |\n",
    )
    problem = only_problem(text)
    assert (problem.section, problem.column) == ("Coding Workflow", "Tool")


def test_bad_local_only_cell() -> None:
    text = (
        "## Routing Table\n\n| Task Type | Primary | Local only |\n|---|---|---|\n"
        "| A | haiku | perhaps |\n"
    )
    problem = only_problem(text)
    assert problem.column == "Local Only"


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.md"
    with pytest.raises(RoutingFileError) as info:
        load_routing_file(path)
    assert str(path) in str(info.value)
    assert "does not exist" in str(info.value)


def test_an_oversized_file_is_refused_before_it_is_parsed(seed_text: str, write_routing) -> None:
    padding = "\n".join(f"prose line {i} " + "x" * 60 for i in range(20_000))
    path = write_routing(seed_text + "\n" + padding)
    with pytest.raises(RoutingFileError) as info:
        load_routing_file(path)
    assert f"{path}: the file is" in str(info.value)
    assert "a routing file that large is refused" in str(info.value)


def test_file_not_utf8(write_routing) -> None:
    path = write_routing("## Routing Table\n| é |".encode("latin-1"))
    with pytest.raises(RoutingFileError) as info:
        load_routing_file(path)
    assert "not UTF-8" in str(info.value)
    assert str(path) in str(info.value)


def test_errors_of_a_file_on_disk_name_its_path(seed_text: str, write_routing) -> None:
    path = write_routing(
        seed_text.replace("| Bulk operations | haiku |", "| Bulk operations | hiaku |")
    )
    with pytest.raises(RoutingFileError) as info:
        load_routing_file(path)
    line = line_of(seed_text, "| Bulk operations | haiku |")
    assert f"{path}:{line}:" in str(info.value)
    assert info.value.source == str(path)


def test_routing_file_error_is_a_cortex_error() -> None:
    assert issubclass(RoutingFileError, CortexError)


def test_prose_below_the_preamble_is_never_configuration() -> None:
    text = f"# Routing\n\n{ROUTES}\n\n## Notes\n\n- Mode: I switch to manual when travelling\n"
    assert parse_routing_text(text).mode is Mode.STATIC_WITH_OVERRIDE


def test_a_time_in_a_providers_note_is_not_an_address() -> None:
    text = with_section(
        ROUTES, "## Providers\n\n| Provider | Notes |\n|---|---|\n| Ollama | tried at 10:30 |\n"
    )
    assert parse_routing_text(text).ollama_host is None


def test_a_routing_table_heading_that_mentions_aliases_is_still_the_routing_table() -> None:
    text = ROUTES.replace("## Routing Table", "## Routing Table (aliases allowed)")
    assert parse_routing_text(text).routes["Code generation"].chain == ("sonnet", "codex")


def test_task_types_in_other_scripts_are_distinct() -> None:
    head = "## Routing Table\n\n| Task Type | Primary |\n|---|---|\n"
    text = head + "| 会议摘要 | sonnet |\n| 代码生成 | codex |\n"
    assert list(parse_routing_text(text).routes) == ["会议摘要", "代码生成"]


def test_inline_html_is_markup_not_text() -> None:
    text = "## Routing Table\n\n| Task Type | Primary |\n|---|---|\n| <b>Notes</b> | haiku |\n"
    assert list(parse_routing_text(text).routes) == ["Notes"]


def test_a_device_is_refused_without_reading_it_whole() -> None:
    with pytest.raises(RoutingFileError, match="refused"):
        load_routing_file("/dev/zero")


def test_a_bad_base_url_error_does_not_echo_its_secret() -> None:
    text = with_section(ROUTES, ALIASES_HEAD + "| x | openai | gpt-4o | ftp://u:sk-SECRET@h/ |\n")
    with pytest.raises(RoutingFileError) as info:
        parse_routing_text(text)
    assert "sk-SECRET" not in str(info.value)


@pytest.mark.parametrize("alias", ["auto", "Auto", "task:x", "default"])
def test_reserved_names_cannot_be_aliases(alias: str) -> None:
    text = with_section(ROUTES, ALIASES_HEAD + f"| {alias} | openai | gpt-4o | |\n")
    assert "reserved" in only_problem(text).message


def test_a_duplicate_alias_is_an_error() -> None:
    rows = "| fast | openai | gpt-4o | |\n| Fast | anthropic | claude-haiku-4-5 | |\n"
    problem = only_problem(with_section(ROUTES, ALIASES_HEAD + rows))
    assert "duplicate alias" in problem.message


def test_a_gguf_file_cannot_take_a_cloud_models_name(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    text = with_section(
        ROUTES, f"## Local Model Files\n\n| Model | File |\n|---|---|\n| sonnet | {gguf} |\n"
    )
    assert "cloud model" in only_problem(text).message


def test_the_digest_is_of_the_bytes_the_table_was_read_from(tmp_path: Path) -> None:
    import hashlib

    from cortexd.routing import load_routing_file_with_digest

    data = "\ufeff".encode() + ROUTES.replace("\n", "\r\n").encode()
    path = tmp_path / "model-routing.md"
    path.write_bytes(data)
    table, digest = load_routing_file_with_digest(path)
    assert digest == hashlib.sha256(data).hexdigest()
    assert table.routes


def test_a_bad_hedging_setting_is_an_error_with_its_line(seed_text: str) -> None:
    text = seed_text.replace("**Mode**:", "**Hedging**: sometimes\n**Mode**:")
    with pytest.raises(RoutingFileError) as raised:
        parse_routing_text(text, "model-routing.md")
    assert "sometimes" in str(raised.value) and "model-routing.md" in str(raised.value)
    assert str(line_of(text, "**Hedging**")) in str(raised.value)


def test_the_hedging_setting_and_a_rows_hedging_cell_are_read(
    seed_text: str, seed_table: RoutingTable
) -> None:
    text = seed_text.replace("**Mode**:", "**Hedging**: on, up to 64k input tokens\n**Mode**:")
    assert parse_routing_text(text).hedging.max_input_tokens == 64_000
    assert seed_table.hedging.enabled  # the seed says nothing: on, up to 32k
    assert all(r.hedging is None for r in seed_table.routes.values())

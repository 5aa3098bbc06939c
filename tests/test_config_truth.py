"""The configuration means one thing (issue 20, section 6).

A name resolves one way in the routing file, the CLI and the daemon: an alias whose model id is
another model's name never takes that name over, and a model id several aliases share is an
error with file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.app import App, start_app
from support.cli import cortex
from support.daemon import cloud_env, remove_home, short_home
from support.fakes import FakeAnthropic, FakeOpenAI, Turn
from support.ledger_rows import answered, write_calls

from cortexd.context.paths import default_routing_text
from cortexd.routing import (
    AmbiguousModelError,
    Api,
    ModelSpec,
    Provider,
    RoutingFileError,
    build_catalog,
    catalog_for,
    parse_routing_text,
)

ALIASES = "\n## Model Aliases\n\n| Alias | Provider | Model ID | Base URL |\n|---|---|---|---|\n"


def with_aliases(*rows: str) -> str:
    return default_routing_text() + ALIASES + "".join(f"{r}\n" for r in rows)


# -- names and ids resolve one way ---------------------------------------------------------------


def test_an_alias_serving_another_models_name_does_not_take_the_name_over() -> None:
    table = parse_routing_text(with_aliases("| toolgpt | openai | gpt-4o | http://proxy:8000/v1 |"))
    catalog = catalog_for(table)
    gpt = catalog.resolve("gpt-4o")
    tool = catalog.resolve("toolgpt")
    assert gpt is not None and (gpt.name, gpt.base_url) == ("gpt-4o", None)
    assert tool is not None and (tool.model_id, tool.base_url) == ("gpt-4o", "http://proxy:8000/v1")
    # The seed's "Complex reasoning | opus | gpt-4o" row keeps the OpenAI model.
    assert table.routes["Complex reasoning"].chain == ("opus", "gpt-4o")


def test_a_name_wins_over_a_synonym_and_a_synonym_over_a_model_id() -> None:
    catalog = build_catalog(
        [
            ModelSpec("claude", Provider.OPENAI, "gpt-4o-mini", Api.CHAT, 128_000),
            ModelSpec("mini", Provider.OPENAI, "chatgpt", Api.CHAT, 128_000),
        ]
    )
    named = catalog.find("claude")  # built-in sonnet's synonym, now an alias's name
    assert named is not None and named.name == "claude"
    synonym = catalog.find("chatgpt")  # gpt-4o's synonym, and mini's model id
    assert synonym is not None and synonym.name == "gpt-4o"
    by_id = catalog.find("gpt-4o-mini")
    assert by_id is not None and by_id.name == "claude"


def test_a_model_id_two_models_share_resolves_to_neither() -> None:
    catalog = build_catalog(
        [
            ModelSpec(
                "proxy-codex",
                Provider.OPENAI,
                "gpt-5.3-codex",
                Api.RESPONSES,
                400_000,
                base_url="http://127.0.0.1:9/v1",
            )
        ]
    )
    assert catalog.find("gpt-5.3-codex") is None
    with pytest.raises(AmbiguousModelError) as caught:
        catalog.resolve("gpt-5.3-codex")
    assert set(caught.value.models) == {"codex", "proxy-codex"}
    assert "ambiguous" in str(caught.value)


def test_a_shared_model_id_is_an_error_with_file_and_line() -> None:
    text = with_aliases(
        "| mycodex | openai | gpt-5.3-codex | http://127.0.0.1:9/v1 |",
        "| a | openai | gpt-4.1 | http://127.0.0.1:9/v1 |",
        "| b | openai | gpt-4.1 | |",
    )
    with pytest.raises(RoutingFileError) as caught:
        parse_routing_text(text, source="/x/model-routing.md")
    lines = text.splitlines()
    by_alias = {p.row: p for p in caught.value.problems}
    assert set(by_alias) == {"mycodex", "a", "b"}
    mycodex = by_alias["mycodex"]
    assert "| mycodex |" in lines[mycodex.line - 1]
    assert "'codex' (built in)" in mycodex.message
    a_line = by_alias["a"].line
    assert f"'a' (line {a_line})" in by_alias["b"].message
    assert f"/x/model-routing.md:{mycodex.line}:" in str(caught.value)


def test_an_id_shared_but_also_a_name_is_not_ambiguous() -> None:
    # Two proxies of gpt-4.1, and the alias named 'gpt-4.1' says which one the id means.
    text = with_aliases(
        "| gpt-4.1 | openai | gpt-4.1 | |",
        "| proxied | openai | gpt-4.1 | http://127.0.0.1:9/v1 |",
    )
    spec = catalog_for(parse_routing_text(text)).resolve("gpt-4.1")
    assert spec is not None and spec.base_url is None


def test_config_check_reports_the_ambiguity(tmp_path: Path) -> None:
    path = tmp_path / "model-routing.md"
    path.write_text(with_aliases("| mycodex | openai | gpt-5.3-codex | http://127.0.0.1:9/v1 |"))
    ran = cortex(tmp_path / "none.sock", "config", "check", str(path))
    assert ran.returncode == 1
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "| mycodex" in t)
    assert f"{path}:{line}:" in ran.stderr and "gpt-5.3-codex" in ran.stderr


# -- the CLI and the daemon agree --------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy() -> Iterator[FakeOpenAI]:
    """The self-hosted endpoint an alias points at."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def proxied(fakes: tuple[FakeAnthropic, FakeOpenAI], proxy: FakeOpenAI) -> Iterator[App]:
    home = short_home()
    (home / "context").mkdir(parents=True)
    text = with_aliases(f"| toolgpt | openai | gpt-4o | {proxy.base_url} |")
    (home / "context" / "model-routing.md").write_text(text)
    running = start_app(home, cloud_env(*fakes))
    yield running
    running.stop()
    remove_home(home)


def posted_models(fake: FakeOpenAI) -> list[str]:
    return [r.json["model"] for r in fake.requests if r.method == "POST"]


def test_the_daemon_sends_gpt_4o_to_openai_and_toolgpt_to_its_base_url(
    proxied: App, fresh: tuple[FakeAnthropic, FakeOpenAI], proxy: FakeOpenAI
) -> None:
    _, openai_fake = fresh
    proxy.clear()
    openai_fake.enqueue(Turn(text="from openai"))
    proxy.enqueue(Turn(text="from the proxy"))
    with proxied.sdk() as sdk:
        first = sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
        second = sdk.chat.completions.create(
            model="toolgpt", messages=[{"role": "user", "content": "hi"}]
        )
    assert first.choices[0].message.content == "from openai"
    assert second.choices[0].message.content == "from the proxy"
    assert posted_models(openai_fake) == ["gpt-4o"]
    assert posted_models(proxy) == ["gpt-4o"]


def test_cortex_route_shows_what_the_daemon_sends(proxied: App) -> None:
    file = str(proxied.home / "context" / "model-routing.md")
    daemon = cortex(proxied.socket, "route", "hi", "--model", "gpt-4o", "--json")
    local = cortex(proxied.socket, "route", "hi", "--model", "gpt-4o", "--json", "--file", file)
    assert daemon.returncode == local.returncode == 0
    assert json.loads(daemon.stdout)["chain"] == json.loads(local.stdout)["chain"] == ["gpt-4o"]
    tool = cortex(proxied.socket, "route", "hi", "--model", "toolgpt", "--json")
    assert json.loads(tool.stdout)["chain"] == ["toolgpt"]


# -- prices of self-hosted models ---------------------------------------------------------------

PRICED = (
    "\n## Model Aliases\n\n"
    "| Alias | Provider | Model ID | Base URL | Price |\n|---|---|---|---|---|\n"
)


def priced(*rows: str) -> str:
    return default_routing_text() + PRICED + "".join(f"{r}\n" for r in rows)


def price_of(text: str, name: str) -> tuple[str, str] | None:
    catalog = catalog_for(parse_routing_text(text))
    spec = catalog.find(name)
    assert spec is not None
    price = catalog.price(spec)
    return None if price is None else (str(price.input_mtok), str(price.output_mtok))


def test_a_model_behind_a_self_hosted_url_has_no_list_price() -> None:
    text = priced("| toolgpt | openai | gpt-4o | http://127.0.0.1:8080/v1 | |")
    assert price_of(text, "toolgpt") is None  # genai-prices knows gpt-4o: not this server
    assert price_of(text, "gpt-4o") is not None


def test_the_providers_own_host_keeps_the_list_price() -> None:
    text = priced("| direct | openai | gpt-4o | https://api.openai.com/v1 | |")
    assert price_of(text, "direct") == price_of(text, "gpt-4o")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3 / 15", ("3", "15")),
        ("$0.10 / $0.40", ("0.10", "0.40")),
        ("free", ("0", "0")),
        ("list", "list"),
        ("unknown", None),
    ],
)
def test_the_price_column_sets_the_price(cell: str, expected: object) -> None:
    text = priced(f"| vllm | openai | gpt-4o | http://127.0.0.1:8080/v1 | {cell} |")
    if expected == "list":
        expected = price_of(text, "gpt-4o")
    assert price_of(text, "vllm") == expected


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("| vllm | openai | gpt-4o | http://127.0.0.1:8080/v1 | cheap |", "is not a price"),
        ("| vllm | openai | gpt-4o | http://127.0.0.1:8080/v1 | 3 |", "is not a price"),
        ("| mine | ollama | mistral:7b | | 1 / 2 |", "a local model costs nothing"),
    ],
)
def test_a_wrong_price_is_an_error_with_line_and_column(row: str, says: str) -> None:
    text = priced(row)
    with pytest.raises(RoutingFileError) as caught:
        parse_routing_text(text)
    (problem,) = caught.value.problems
    assert says in problem.message and problem.column == "Price"
    assert text.splitlines()[problem.line - 1] == row


def test_a_call_to_a_self_hosted_model_records_its_own_price(
    fakes: tuple[FakeAnthropic, FakeOpenAI], proxy: FakeOpenAI
) -> None:
    home = short_home()
    (home / "context").mkdir(parents=True)
    text = priced(
        f"| toolgpt | openai | gpt-4o | {proxy.base_url} | |",
        f"| rented | openai | gpt-4o | {proxy.base_url} | 2 / 8 |",
    )
    (home / "context" / "model-routing.md").write_text(text)
    running = start_app(home, cloud_env(*fakes))
    try:
        proxy.clear()
        million = {"input_tokens": 1_000_000, "output_tokens": 500_000}
        proxy.enqueue(Turn(text="a", **million), Turn(text="b", **million))
        with running.sdk() as sdk:
            costs = [
                sdk.chat.completions.create(
                    model=name, messages=[{"role": "user", "content": "hi"}]
                ).model_extra["cortex"]["cost_usd"]
                for name in ("toolgpt", "rented")
            ]
        assert costs[0] is None  # unknown, never the cloud list price nor 0
        assert costs[1] is not None and float(costs[1]) == 2 + 4
    finally:
        running.stop()
        remove_home(home)


# -- an edit of the routing file without a terminal needs --yes ------------------------------


@pytest.fixture
def context_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "context").mkdir(parents=True)
    (home / "context" / "model-routing.md").write_text(default_routing_text())
    return home


@pytest.mark.parametrize("answer", ["n\n", "y\n", ""])
def test_budget_set_without_a_terminal_refuses_without_yes(
    context_home: Path, tmp_path: Path, answer: str
) -> None:
    path = context_home / "context" / "model-routing.md"
    env = {"CORTEX_HOME": str(context_home)}
    ran = cortex(tmp_path / "none.sock", "budget", "set", "anthropic", "2", stdin=answer, env=env)
    assert ran.returncode == 1
    assert "not a terminal" in ran.stderr and "--yes" in ran.stderr
    assert "+| anthropic | $2 |" in ran.stdout  # the diff is shown all the same
    assert path.read_text() == default_routing_text()
    written = cortex(tmp_path / "none.sock", "budget", "set", "anthropic", "2", "--yes", env=env)
    assert written.returncode == 0, written.stderr
    assert "| anthropic | $2 |" in path.read_text()


def test_propose_apply_without_a_terminal_refuses_without_yes() -> None:
    home = short_home()
    start_app(home, {}).stop()  # the database exists now, with its schema
    rows = answered("Code review", "sonnet", calls=50, achieved=30, cost="0.011")
    rows += answered(
        "Code review", "codex", calls=50, achieved=46, cost="0.004", tried_first="sonnet"
    )
    write_calls(home / "state" / "ledger.sqlite3", rows)
    running = start_app(home, {})
    try:
        path = home / "context" / "model-routing.md"
        text = path.read_text()
        # Were it written, the CLI would signal this process to reload and fail the test.
        ran = cortex(running.socket, "propose", "--apply", "1", stdin="y\n")
        assert ran.returncode == 1 and "--yes" in ran.stderr, ran.stderr
        assert "+| Code review | codex | sonnet |" in ran.stdout
        assert path.read_text() == text
        dry = cortex(running.socket, "propose", "--apply", "1", "--dry-run")
        assert dry.returncode == 0 and "nothing written" in dry.stdout
    finally:
        running.stop()
        remove_home(home)


def test_two_names_for_one_model_at_one_endpoint_are_not_ambiguous() -> None:
    # 'mini' is haiku under another name: same provider, id and endpoint.
    table = parse_routing_text(with_aliases("| mini | anthropic | claude-haiku-5-5 | |"))
    spec = catalog_for(table).resolve("claude-haiku-5-5")
    assert spec is not None and spec.name == "haiku"

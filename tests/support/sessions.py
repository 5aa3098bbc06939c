"""A coding agent's session played through cortexd, for the tests and the benchmarks that
measure what a translated session costs: Codex's Responses requests (its instructions and
function tools, a tool loop per turn) answered by an Anthropic model through the fake, whose
prompt cache counts what each request's breakpoints earn (fakes/prompt_cache.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai

from support.app import App
from support.fakes import FakeAnthropic, Turn
from support.fakes.script import ToolCall

CODEX_REQUEST = Path(__file__).parent.parent / "data" / "agent-clients"
CODEX_REQUEST /= "codex-0.171.0.responses-request.model-auto.json"
#: Codex's instructions are about 17,000 characters (the recorded request says so).
INSTRUCTIONS_CHARS = 16_979


@dataclass(frozen=True)
class SessionCost:
    """What a session's calls read from the cache, and what they cost."""

    calls: int
    prompt_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: Decimal
    uncached_usd: Decimal  # the same calls with every prompt token at the full input price

    @property
    def cache_read_share(self) -> float:
        """The part of all prompt tokens read from the cache."""
        return self.cache_read_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def _instructions() -> str:
    line = "You are Codex, a coding agent. Follow the repository's conventions; be terse. "
    return (line * (INSTRUCTIONS_CHARS // len(line) + 1))[:INSTRUCTIONS_CHARS]


def codex_tools() -> list[dict[str, Any]]:
    """Codex's function tools, as its recorded request offers them."""
    body = json.loads(CODEX_REQUEST.read_text())["body"]
    return [t for t in body["tools"] if t.get("type") == "function"]


def play_codex_session(
    app: App, fake: FakeAnthropic, *, model: str, turns: int, session: str
) -> SessionCost:
    """`turns` calls of one Codex session answered by `model`: each person's turn starts
    with a tool call and ends with an answer, as an agent's turns do. Returns what the
    ledger recorded of them."""
    client = openai.OpenAI(
        base_url="http://cortexd/v1",
        api_key="unused",
        http_client=app.client(),
        max_retries=0,
        default_headers={"originator": "codex_exec", "session-id": session},
    )
    tools: Any = codex_tools()
    items: list[Any] = [
        {"type": "message", "role": "developer",
         "content": [{"type": "input_text", "text": _instructions()}]},
        {"role": "user", "content": "look at the failing test in tests/test_api.py"},
    ]  # fmt: skip
    ids = []
    for n in range(turns):
        if n % 2 == 0:
            call = ToolCall(f"toolu_{n:02}", "exec_command", {"cmd": f"sed -n {n},+40p f.py"})
            fake.enqueue(Turn(text="", tool_calls=(call,)))
        else:
            fake.enqueue(Turn(text=f"Step {n} is done: the assertion compares the wrong field."))
        raw = client.responses.with_raw_response.create(model=model, input=items, tools=tools)
        ids.append(raw.headers["x-cortex-call-id"])
        answer = raw.parse()
        items += [o.model_dump(exclude_none=True) for o in answer.output]
        used = next((o for o in answer.output if o.type == "function_call"), None)
        if used is not None:
            output = "\n".join(f"{i}: line {i} of f.py" for i in range(40))
            items.append(
                {"type": "function_call_output", "call_id": used.call_id, "output": output}
            )
        else:
            items.append({"role": "user", "content": f"good; now the next one ({n})"})
    client.close()
    return _cost(app, ids)


def _cost(app: App, ids: list[str]) -> SessionCost:
    prompt = read = written = 0
    cost = uncached = Decimal(0)
    catalog = app.services.routing.catalog
    for call_id in ids:
        why = app.client().get(f"/v1/calls/{call_id}").json()
        prompt += why["input_tokens"]
        read += why["cache_read_tokens"]
        written += why["cache_write_tokens"]
        cost += Decimal(why["cost_usd"])
        spec = catalog.resolve(why["model"])
        price = catalog.price(spec) if spec is not None else None
        assert price is not None, why["model"]
        uncached += (
            why["input_tokens"] * price.input_mtok + why["output_tokens"] * price.output_mtok
        ) / 1_000_000
    return SessionCost(len(ids), prompt, read, written, cost, uncached)

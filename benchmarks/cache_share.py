"""What a translated agent session reads from Anthropic's prompt cache, and what it costs:
`uv run python -m benchmarks.cache_share [--calls 10]`.

A Codex session (its ~17,000-character instructions, its function tools, a tool call then
an answer each turn) is answered by sonnet through cortexd, translated from the Responses
API, against the fake Anthropic whose prompt cache counts what each request's breakpoints
earn, as the real API does (tests/support/fakes/prompt_cache.py). The same session is then
counted as though cortexd had asked for no caching. Prints the cache-read share of all
prompt tokens and the cost of each, priced by the ledger.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The fakes and the session player are test support, deliberately not product code.
sys.path.insert(0, str(ROOT / "tests"))
from support.app import start_app  # noqa: E402
from support.daemon import cloud_env, remove_home  # noqa: E402
from support.fakes import FakeAnthropic, FakeOpenAI  # noqa: E402
from support.sessions import SessionCost, play_codex_session  # noqa: E402


def measure(calls: int) -> tuple[SessionCost, SessionCost]:
    """The session with cortexd's breakpoints, and counted without any."""
    with FakeAnthropic(prompt_cache=True) as anthropic_fake, FakeOpenAI() as openai_fake:
        app = start_app(env=cloud_env(anthropic_fake, openai_fake))
        try:
            cached = play_codex_session(
                app, anthropic_fake, model="sonnet", turns=calls, session="bench-cached"
            )
            anthropic_fake.clear()
            anthropic_fake.strip_cache_control = True
            bare = play_codex_session(
                app, anthropic_fake, model="sonnet", turns=calls, session="bench-bare"
            )
        finally:
            app.stop()
            remove_home(app.home)
    return cached, bare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="calls in the session")
    args = parser.parse_args(argv)
    cached, bare = measure(args.calls)
    print(f"A Codex session of {args.calls} calls answered by sonnet, translated (fake Anthropic)")
    print()
    print("| breakpoints | prompt tokens | read from cache | written | cache-read share | cost |")
    print("|---|---|---|---|---|---|")
    for name, cost in (("cortexd's (system end + automatic)", cached), ("none", bare)):
        print(
            f"| {name} | {cost.prompt_tokens:,} | {cost.cache_read_tokens:,} | "
            f"{cost.cache_write_tokens:,} | {cost.cache_read_share:.1%} | ${cost.cost_usd:.4f} |"
        )
    print()
    print(f"without caching the session costs {bare.cost_usd / cached.cost_usd:.1f}× as much")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

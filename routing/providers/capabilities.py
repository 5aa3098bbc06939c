"""What cloud models can do, from their id: a table of families, checked in order.

The APIs do not say (OpenAI's model list has no capabilities; Anthropic's does, but asking
costs a request), so this is a table. Context windows come from genai-prices' snapshot when
it knows the model, else from the family's row.
"""

from __future__ import annotations

import re
from dataclasses import replace

from cortexd.routing.price_table import PriceTable
from cortexd.routing.providers.contract import Capabilities

_CLAUDE = Capabilities(
    context_window=200_000,
    max_output_tokens=64_000,
    tools=True,
    images=True,
    json_mode=True,
    json_schema=True,
    reasoning=True,
    prompt_caching=True,
)
_GPT4O = Capabilities(
    context_window=128_000,
    max_output_tokens=16_384,
    tools=True,
    images=True,
    json_mode=True,
    json_schema=True,
    prompt_caching=True,
)
_REASONER = replace(_GPT4O, context_window=200_000, max_output_tokens=100_000, reasoning=True)
_CODEX = replace(_REASONER, context_window=400_000, max_output_tokens=128_000)
_EMBEDDING = Capabilities(context_window=8_192, chat=False, embeddings=True)

#: (pattern on the model id, capabilities), first match wins.
_FAMILIES: tuple[tuple[re.Pattern[str], Capabilities], ...] = (
    (re.compile(r"^claude-3-(?:haiku|opus|sonnet)"), replace(_CLAUDE, reasoning=False)),
    (re.compile(r"^claude-"), _CLAUDE),
    (re.compile(r"^text-embedding-"), _EMBEDDING),
    (re.compile(r"codex"), _CODEX),
    (re.compile(r"^(?:o\d|gpt-5)"), _REASONER),
    (re.compile(r"^(?:gpt-4o|gpt-4\.1|chatgpt-)"), _GPT4O),
    (re.compile(r"^gpt-"), replace(_GPT4O, context_window=None)),
)


def cloud_capabilities(
    provider: str, model_id: str, prices: PriceTable | None = None
) -> Capabilities:
    """What `model_id` of `provider` can do; unknown models get a cautious chat-only answer.
    The context window is genai-prices' (through `prices`, else asked in this process)."""
    mid = model_id.strip().casefold()
    caps = next((c for pattern, c in _FAMILIES if pattern.search(mid)), Capabilities())
    window = (prices or PriceTable()).lookup(provider, model_id).context_window
    return replace(caps, context_window=window) if window else caps

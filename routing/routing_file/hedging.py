"""The routing file's ``**Hedging**:`` line: whether a late primary's fallback may start
beside it (routing/dispatch/hedge.py), and up to what prompt size.

Written the way the file's other settings are, in the person's words: ``on``, ``off``, or
``on, up to 32k input tokens`` (any number, with an optional ``k``). A Routing Table row can
turn it off (or on) for its task in a ``Hedging`` column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cortexd.errors import CortexError

#: Above this many prompt tokens no fallback is started beside the primary by default: a
#: 150k-token agent context sent twice costs as much as the answer.
DEFAULT_MAX_INPUT_TOKENS = 32_000
_ON = ("on", "yes", "true", "enabled", "auto")
_OFF = ("off", "no", "false", "disabled", "never")
_LIMIT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(k|m)?\b", re.IGNORECASE)


class HedgingSettingError(CortexError, ValueError):
    """The setting cannot be read; the message says what is accepted."""


@dataclass(frozen=True)
class Hedging:
    """The file's hedging rule: `enabled`, and the largest prompt a hedge may send twice."""

    enabled: bool = True
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS
    line: int | None = None


def parse_hedging(value: str, line: int | None = None) -> Hedging:
    """The setting in `value`.

    >>> parse_hedging("off").enabled, parse_hedging("on").max_input_tokens
    (False, 32000)
    >>> parse_hedging("on, up to 100k input tokens").max_input_tokens
    100000
    >>> parse_hedging("sometimes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cortexd.routing.routing_file.hedging.HedgingSettingError: 'sometimes': write on or off, ...
    """
    text = value.strip().strip("*_`").strip()
    words = re.findall(r"[a-z]+", text.casefold())
    first = words[0] if words else ""
    if first in _OFF:
        return Hedging(False, DEFAULT_MAX_INPUT_TOKENS, line)
    if first not in _ON:
        raise HedgingSettingError(
            f"'{value.strip()}': write on or off, optionally 'on, up to 32k input tokens'"
        )
    limit = _LIMIT.search(text)
    if limit is None:
        return Hedging(True, DEFAULT_MAX_INPUT_TOKENS, line)
    number = float(limit.group(1).replace(",", "."))
    scale = {"k": 1_000, "m": 1_000_000}.get((limit.group(2) or "").casefold(), 1)
    return Hedging(True, int(number * scale), line)


def row_hedging(cell: str) -> bool | None:
    """A Routing Table row's ``Hedging`` cell: True, False, or None (the file's rule).

    >>> row_hedging("off"), row_hedging(""), row_hedging("on")
    (False, None, True)
    """
    text = cell.strip().strip("*_`").strip().casefold()
    if not text or text in ("—", "-", "default"):
        return None
    if text in _OFF:
        return False
    if text in _ON:
        return True
    raise HedgingSettingError(f"'{cell.strip()}': write on, off, or leave it empty")

"""The ranges a request's numbers must fall in, for the front-ends that check bodies by hand
(Messages, Responses; Chat Completions says the same with pydantic bounds).

A number out of range is the client's mistake, answered as a 400 at the edge. Sent on, it
is worse: ``max_tokens: 2**70`` made every model's window check skip and the client got a
503 with Retry-After, which SDKs retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The most output tokens a request may ask for. No model's context window holds more (the
#: largest is 1M tokens), and no provider answers more than 128k; a larger number can only
#: be a mistake.
MAX_OUTPUT_TOKENS = 1_000_000
#: Counts with no meaningful upper bound of their own (top_k) stay within what every
#: provider's parser takes: a 32-bit integer.
MAX_INT32 = 2**31 - 1


@dataclass(frozen=True)
class Range:
    """A field's range: whole numbers only when `whole`."""

    low: float
    high: float
    whole: bool = False

    def problem(self, value: object) -> str | None:
        """What is wrong with `value`, or None when it is in range.

        >>> Range(1, 100, whole=True).problem(2**70)
        'must be a whole number from 1 to 100'
        >>> Range(0, 2).problem(True), Range(0, 2).problem(1.5)
        ('must be a number from 0 to 2', None)
        """
        kinds = int if self.whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"must be {self.wording()}"
        if not self.low <= value <= self.high:
            return f"must be {self.wording()}"
        return None

    def wording(self) -> str:
        """'a whole number from 1 to 100', 'a number from 0 to 2'."""
        kind = "a whole number" if self.whole else "a number"
        return f"{kind} from {_shown(self.low)} to {_shown(self.high)}"


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def first_out_of_range(
    body: Mapping[str, object], ranges: Mapping[str, Range]
) -> tuple[str, str] | None:
    """The first field of `body` present (not null) and out of its range: (dotted name, what
    is wrong). A name with a dot reads into an object (``thinking.budget_tokens``).

    >>> first_out_of_range({"max_tokens": 0}, {"max_tokens": Range(1, 10, whole=True)})
    ('max_tokens', 'must be a whole number from 1 to 10')
    >>> first_out_of_range({"thinking": {"type": "disabled"}},
    ...                    {"thinking.budget_tokens": Range(1, 10, whole=True)}) is None
    True
    """
    for name, allowed in ranges.items():
        value: object = body
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and (problem := allowed.problem(value)) is not None:
            return name, problem
    return None

"""Reading the daemon's JSON into typed fields, for the client library's answer types.

The `cortexd.client_*` modules build their frozen dataclasses with these: amounts of money
the daemon writes as decimal strings become `Decimal`, lists become tuples, and a missing
or null field becomes the type's "unknown" (None) or zero, never an exception. Standard
library only: the ``cortex`` CLI imports this on every command that asks the daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

#: An answer as the daemon sent it (JSON decoded).
Json = Mapping[str, Any]

#: Pico-dollars in a dollar: the ledger keeps money as integer pico-dollars.
PICO = 10**12


def usd(value: Any) -> Decimal | None:
    """An amount in USD as the daemon writes it (a decimal string, or a number); None when
    unknown.

    >>> usd("0.000412"), usd(None), usd(1.5)
    (Decimal('0.000412'), None, Decimal('1.5'))
    """
    return None if value is None else Decimal(str(value))


def usd0(value: Any) -> Decimal:
    """An amount in USD that is never unknown (a sum): zero where the answer has none."""
    found = usd(value)
    return Decimal(0) if found is None else found


def pico_usd(value: Any) -> Decimal | None:
    """Integer pico-dollars as USD (None when unknown)."""
    return None if value is None else (Decimal(int(value)) / PICO).normalize()


def opt_str(value: Any) -> str | None:
    """A string, or None."""
    return None if value is None else str(value)


def opt_int(value: Any) -> int | None:
    """An integer, or None."""
    return None if value is None else int(value)


def opt_float(value: Any) -> float | None:
    """A number, or None."""
    return None if value is None else float(value)


def opt_bool(value: Any) -> bool | None:
    """True, False, or None (not known)."""
    return None if value is None else bool(value)


def texts(value: Any) -> tuple[str, ...]:
    """A list of strings as a tuple (an empty one for null)."""
    return tuple(str(v) for v in value or ())


def objects(value: Any) -> tuple[Json, ...]:
    """A list of JSON objects as a tuple (an empty one for null)."""
    return tuple(value or ())

"""How amounts read to people, shared by the report and the CLI (no heavy imports)."""

from __future__ import annotations

from decimal import Decimal


def money(value: str | None) -> str:
    """A dollar amount for people: cents, or four decimals below a cent; ? when unknown.

    >>> money("12.3456"), money("0.000412"), money("0"), money(None)
    ('$12.35', '$0.0004', '$0.00', '?')
    """
    if value is None:
        return "?"
    amount = Decimal(value)
    if amount == 0 or amount >= Decimal("0.01"):
        return f"${amount:,.2f}"
    return f"${amount:.4f}"


def seconds(value: float | None) -> str:
    """``1.23 s``, or — when unknown."""
    return "—" if value is None else f"{value:.2f} s"


def percent(rate: float | None) -> str:
    """``87%``, or — when there is nothing to divide."""
    return "—" if rate is None else f"{rate * 100:.0f}%"


def bars(days: list[dict[str, str | None]], width: int = 40) -> list[str]:
    """Spend per day as a bar chart, one line a day, from the first day with any spend.

    >>> bars([{"day": "2026-12-01", "cost_usd": "0"}, {"day": "2026-12-02", "cost_usd": "2"},
    ...       {"day": "2026-12-03", "cost_usd": "1"}], width=4)
    ['12-02 ████ $2.00', '12-03 ██   $1.00']
    """
    amounts = [(d["day"] or "", Decimal(d["cost_usd"] or 0)) for d in days]
    while amounts and amounts[0][1] == 0:
        amounts.pop(0)
    top = max((a for _, a in amounts), default=Decimal(0))
    lines = []
    for day, amount in amounts:
        filled = 0 if top == 0 else round(amount / top * width)
        if amount > 0 and filled == 0:
            bar = "▏"
        else:
            bar = "█" * filled
        lines.append(f"{day[5:]} {bar.ljust(width)} {money(str(amount))}")
    return lines

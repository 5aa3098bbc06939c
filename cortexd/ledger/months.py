"""Calendar months and days in the user's local time (DST included, via the C library)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cortexd.errors import CortexError


def _local(year: int, month: int, day: int = 1) -> float:
    # mktime with isdst=-1 lets the C library decide whether DST applies at that moment.
    return time.mktime((year, month, day, 0, 0, 0, 0, 0, -1))


@dataclass(frozen=True)
class Month:
    """One local calendar month as Unix times: [start, end)."""

    year: int
    month: int
    start: float
    end: float

    @classmethod
    def of(cls, at: float) -> Month:
        """The month `at` falls in, in local time."""
        t = time.localtime(at)
        year, month = t.tm_year, t.tm_mon
        after = (year + 1, 1) if month == 12 else (year, month + 1)
        return cls(year, month, _local(year, month), _local(*after))

    @property
    def label(self) -> str:
        """``2026-12``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> float:
        """Its length in days (DST months are an hour off a whole number)."""
        return (self.end - self.start) / 86_400


def day_label(at: float) -> str:
    """The local date of a Unix time, ``2026-12-03``."""
    return time.strftime("%Y-%m-%d", time.localtime(at))


def day_start(at: float) -> float:
    """Local midnight at the start of `at`'s day."""
    t = time.localtime(at)
    return _local(t.tm_year, t.tm_mon, t.tm_mday)


def projection(
    spent: float, *, now: float, month: Month, recent: float, recent_since: float
) -> float:
    """Month-end spend if the current rate goes on: what was spent, plus the rate of the
    last days (`recent` since `recent_since`, counted as at least one day) times what is
    left of the month.

    >>> m = Month(2026, 4, 0.0, 30 * 86_400.0)
    >>> projection(10.0, now=10 * 86_400.0, month=m, recent=7.0, recent_since=3 * 86_400.0)
    30.0
    """
    window_days = max(1.0, (now - recent_since) / 86_400)
    left_days = max(0.0, (month.end - now) / 86_400)
    return spent + recent / window_days * left_days


class PeriodError(CortexError, ValueError):
    """A `--since` the ledger cannot read."""


def parse_since(text: str, now: float) -> float:
    """The Unix time a ``--since`` names: ``2026-11-01``, ``7d``, ``12h``, ``2w``, ``today``
    or ``month`` (the start of this local month).

    >>> parse_since("2d", 200_000.0)
    27200.0
    """
    value = text.strip().casefold()
    if value == "today":
        return day_start(now)
    if value == "month":
        return Month.of(now).start
    units = {"h": 3_600, "d": 86_400, "w": 7 * 86_400}
    if value[:-1].isdigit() and value[-1:] in units:
        return now - int(value[:-1]) * units[value[-1]]
    try:
        t = time.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise PeriodError(
            f"cannot read '{text}' as a start: use a date (2026-11-01), 7d, 12h, 2w, today or month"
        ) from None
    return _local(t.tm_year, t.tm_mon, t.tm_mday)

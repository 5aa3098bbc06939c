"""genai-prices' entries for the models cortexd uses, and only those, kept small.

genai-prices stays the source of every price, but its whole snapshot costs about 50 MiB
once loaded, and a third of a second to load, where cortexd needs a dozen of its entries.
A `PriceTable` with a folder keeps those entries in a JSON file there, named for
genai-prices' version (a new version is a new file), and fills the ones it lacks in a child
process (`python -m cortexd.routing.price_extract`), so that the daemon itself never loads
the snapshot: `ready` does that for the models a call is about to use, off the event loop
and on another core. A lookup `ready` has not covered (or a table without a folder: the
CLI, tests) asks genai-prices in this process, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from cortexd.routing.prices import Price, PriceLookup, Tier, lookup_price

log = logging.getLogger("cortexd.prices")

#: An entry's key: the provider and the model id genai-prices is asked for.
Key = tuple[str, str]
#: A child process that has not extracted a few prices in this long is given up on.
EXTRACT_TIMEOUT_S = 60.0


def genai_prices_version() -> str:
    """The installed genai-prices' version, read without importing it."""
    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return "unknown"


def price_json(price: Price | None) -> dict[str, Any] | None:
    """A price as the file keeps it (decimals as text: exact)."""
    if price is None:
        return None

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "input": text(price.input_mtok),
        "output": text(price.output_mtok),
        "cache_read": text(price.cache_read_mtok),
        "cache_write": text(price.cache_write_mtok),
        "source": price.source,
        "tiers": [[t.part, t.start, str(t.mtok)] for t in price.tiers],
    }


def price_from(data: Mapping[str, Any] | None) -> Price | None:
    """The price `price_json` wrote.

    >>> tiers = (Tier("input", 9, Decimal(6)),)
    >>> p = Price(Decimal(3), Decimal(15), None, Decimal("3.75"), "x", tiers)
    >>> price_from(price_json(p)) == p
    True
    """
    if data is None:
        return None

    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    tiers = tuple(Tier(part, int(start), Decimal(mtok)) for part, start, mtok in data["tiers"])
    return Price(
        Decimal(data["input"]),
        Decimal(data["output"]),
        number(data["cache_read"]),
        number(data["cache_write"]),
        str(data["source"]),
        tiers,
    )


def entry_json(provider: str, model_id: str) -> dict[str, Any]:
    """What genai-prices knows of one model, standard and batch, as the file keeps it."""
    standard = lookup_price(provider, model_id)
    batch = lookup_price(provider, model_id, batch=True)
    return {
        "price": price_json(standard.price),
        "batch": price_json(batch.price),
        "context_window": standard.context_window,
    }


class PriceTable:
    """genai-prices' entries, looked up once each; kept in `folder` when there is one."""

    def __init__(self, folder: Path | None = None) -> None:
        self._file = folder / f"prices-{genai_prices_version()}.json" if folder else None
        self._entries: dict[str, dict[str, Any]] = {}
        self._filling: asyncio.Future[None] | None = None
        if self._file is not None:
            with contextlib.suppress(OSError, ValueError):
                found = json.loads(self._file.read_text(encoding="utf-8"))
                self._entries.update(found.get("entries") or {})

    @staticmethod
    def _name(key: Key) -> str:
        return f"{key[0]}/{key[1]}"

    def lookup(self, provider: str, model_id: str, *, batch: bool = False) -> PriceLookup:
        """Its price (the batch price with `batch`, the standard one where genai-prices
        lists no batch price) and context window."""
        entry = self._entries.get(self._name((provider, model_id)))
        if entry is None:
            # Not readied (or no folder): genai-prices in this process, remembered.
            entry = self._entries[self._name((provider, model_id))] = entry_json(provider, model_id)
        price = price_from(entry["batch"] if batch else entry["price"])
        return PriceLookup(price, entry["context_window"])

    def missing(self, keys: Iterable[Key]) -> list[Key]:
        """The entries of `keys` not known yet."""
        return [k for k in dict.fromkeys(keys) if self._name(k) not in self._entries]

    def to_fill(self, keys: Iterable[Key]) -> bool:
        """Whether `ready(keys)` has anything to do (never without a folder)."""
        return self._file is not None and bool(self.missing(keys))

    async def ready(self, keys: Iterable[Key]) -> None:
        """Know the entries of `keys` without loading genai-prices here: the missing ones
        are extracted by a child process and kept in the file (one child at a time). A
        child that fails leaves them to `lookup`, in this process."""
        if self._file is None:
            return
        while True:
            wanted = self.missing(keys)
            if not wanted:
                return
            if self._filling is None or self._filling.done():
                self._filling = asyncio.ensure_future(self._fill(wanted))
            with contextlib.suppress(Exception):
                await asyncio.shield(self._filling)
            if self._filling.done() and self.missing(wanted):
                return  # the child could not: `lookup` asks in this process

    async def _fill(self, keys: list[Key]) -> None:
        names = [self._name(k) for k in keys]
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cortexd.routing.price_extract",
            *names,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(EXTRACT_TIMEOUT_S):
                out, err = await child.communicate()
        except BaseException as error:
            # Given up on, or this loop is ending: the child must not outlive it (it would
            # wait for ever on a pipe no one reads).
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            with contextlib.suppress(BaseException):
                await child.wait()  # reaped while the loop still runs
            if not isinstance(error, TimeoutError):
                raise
            log.warning("extracting prices took over %.0f s; looked up here", EXTRACT_TIMEOUT_S)
            return
        if child.returncode != 0:
            log.warning("extracting prices failed: %s", err.decode(errors="replace")[-500:])
            return
        self._entries.update(json.loads(out))
        await asyncio.to_thread(self._save)

    async def aclose(self) -> None:
        """Stop a child still extracting (the daemon is stopping)."""
        filling = self._filling
        if filling is not None and not filling.done():
            filling.cancel()
            with contextlib.suppress(BaseException):
                await filling

    def _save(self) -> None:
        """Write the file whole, atomically (another daemon may read it)."""
        assert self._file is not None
        self._file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"genai_prices": genai_prices_version(), "entries": self._entries})
        fd, tmp = tempfile.mkstemp(prefix=".prices.", dir=self._file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self._file)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

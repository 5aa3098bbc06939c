"""model-performance.md: what it says, written atomically, and not on every call."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from test_ledger import attempt, call, running, write

from cortexd.context.atomic import write_atomic
from cortexd.ledger.report import ReportJob, render, snapshot


def test_the_report_has_spend_the_task_table_and_the_latest_calls(tmp_path: Path) -> None:
    from cortexd.ledger import store

    db = store.connect(tmp_path / "l.sqlite3")
    now = time.time()
    write(
        db,
        call("aaaaaaaaaaaa1", started_at=now - 9, task="Code | review"),
        call(
            "bbbbbbbbbbbb2",
            started_at=now - 5,
            attempts=(attempt("b", model="mystery", cost_usd=None),),
            model="mystery",
        ),
    )
    text = snapshot(db, now)
    assert text.startswith("# Model performance\n")
    assert f"## Spend in {time.strftime('%Y-%m')}" in text
    assert "| anthropic | 2 | $0.0006 |" in text
    assert "**Price unknown:** 1 tries of `mystery` (anthropic)" in text
    assert "| Code \\| review | sonnet (anthropic) | 1 | 100% | 100% |" in text
    assert "$0.00 + ?" in text  # the unpriced model's row says so
    assert "`bbbbbbbbbbbb`" in text and "`aaaaaaaaaaaa`" in text
    assert text.index("`bbbbbbbbbbbb`") < text.index("`aaaaaaaaaaaa`")  # newest first
    # Every table row has as many cells as its header.
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            cells = {line.replace("\\|", "").count("|") for line in rows}
            assert len(cells) == 1, block


def test_an_empty_ledger_still_reads_well() -> None:
    costs = {
        "now": time.time(), "month": "2026-12", "providers": [], "total_usd": "0",
        "projected_usd": "0.00", "days_elapsed": 2.0, "days_in_month": 31, "unpriced": [],
    }  # fmt: skip
    text = render(costs, {"rows": []}, [])
    assert "no calls yet this month" in text and "$0.00" in text


def test_a_reader_never_sees_half_a_report(tmp_path: Path) -> None:
    target = tmp_path / "model-performance.md"
    versions = ["short\n", "long " * 50_000 + "\n"]
    write_atomic(target, versions[0])
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(target.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(200):
            write_atomic(target, versions[n % 2])
    finally:
        stop.set()
        reader.join()
    assert seen <= set(versions) and len(seen) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["model-performance.md"]  # no temp files left


@pytest.mark.anyio
async def test_the_report_is_debounced_but_never_starved(tmp_path: Path) -> None:
    async with running(tmp_path / "l.sqlite3") as ledger:
        report = tmp_path / "model-performance.md"
        # No spacing: a loaded machine's slower writes must not thin the stream below.
        job = ReportJob(ledger, report, delay_s=0.1, max_delay_s=0.4, spacing=0)
        for _ in range(20):  # a burst: one write
            job.poke()
        for _ in range(100):  # a loaded machine may take a while to write it
            if job.writes:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert job.writes == 1 and report.exists()
        before = job.writes
        for _ in range(30):  # a steady stream of calls still updates the report
            job.poke()
            await asyncio.sleep(0.05)
        assert job.writes - before >= 2
        await ledger.record(call("late"))
        job.poke()
        await job.close()  # a pending write happens at shutdown
        assert "`late`" in report.read_text()


@pytest.mark.anyio
async def test_a_slow_rewrite_spaces_the_next_but_shutdown_still_writes(tmp_path: Path) -> None:
    async with running(tmp_path / "l.sqlite3") as ledger:
        report = tmp_path / "model-performance.md"
        job = ReportJob(ledger, report, delay_s=0.05, max_delay_s=0.1, spacing=1000)
        slow = job._write

        def write_slowly() -> None:  # a long month: 0.1 s, so the next waits 100 s
            time.sleep(0.1)
            slow()

        job._write = write_slowly  # type: ignore[method-assign]
        await job.write()
        assert job.writes == 1
        await ledger.record(call("later"))
        job.poke()
        await asyncio.sleep(0.5)  # five times max_delay_s: held back by the spacing
        assert job.writes == 1 and "`later`" not in report.read_text()
        await job.close()  # shutdown does not wait for it
        assert job.writes == 2 and "`later`" in report.read_text()

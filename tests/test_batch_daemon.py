"""`cortex batch run` against a real daemon: 2,000 lines through injected 429s and 500s,
the daemon killed with SIGKILL mid-run and started again, and the output checked whole:
every line once, in input order, none answered twice."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

from support.cli import cortex
from support.daemon import cloud_env, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn
from support.fakes.server import Hang
from support.waiting import wait_for

LINES = 2000


def test_a_2000_line_batch_survives_kill_9_with_no_line_answered_twice(tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    models = ("sonnet", "gpt-4o", "haiku")
    source.write_text(
        "".join(
            json.dumps(
                {"id": f"L{i}", "prompt": f"Label this ticket: #{i}", "model": models[i % 3]}
            )
            + "\n"
            for i in range(LINES)
        )
    )
    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        limited = Fault.status(429, headers={"retry-after": "0"})
        slow = Turn(delay=0.02)
        anthropic.enqueue(*[limited] * 8, *[Fault.status(500)] * 4, *[slow] * 5000)
        openai.enqueue(*[limited] * 8, *[Fault.status(500)] * 4, *[slow] * 5000)
        env = cloud_env(anthropic, openai)
        daemon = start_daemon(home, env)
        try:
            ran = cortex(
                daemon.socket,
                "batch",
                "run",
                str(source),
                "-o",
                str(output),
                "--yes",
                "--detach",
                "--json",
                "--concurrency",
                "16",
            )
            assert ran.returncode == 0, ran.stderr
            estimate = json.loads(ran.stdout.splitlines()[0])["estimate"]
            assert estimate["lines"] == LINES and estimate["cost_usd"] > 0
            batch_id = json.loads(ran.stdout.splitlines()[1])["id"]
            db_path = home / "state" / "ledger.sqlite3"

            def answered() -> int:
                with sqlite3.connect(db_path) as db:
                    (n,) = db.execute(
                        "SELECT count(*) FROM batch_lines WHERE state = 'answered'"
                    ).fetchone()
                return int(n)

            wait_for(lambda: answered() >= 300, "300 lines answered", timeout=90)
            daemon.signal(signal.SIGKILL)
            daemon.wait(10)
            before = answered()
            assert before < LINES
            sent_before = len(anthropic.requests) + len(openai.requests)
            daemon = start_daemon(home, env)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status = cortex(daemon.socket, "batch", "status", batch_id, "--json")
                now = json.loads(status.stdout)
                if now["state"] != "running":
                    break
                time.sleep(0.5)
            assert now["state"] == "done", now
            out = [json.loads(line) for line in output.read_text().splitlines()]
            assert [o["id"] for o in out] == [f"L{i}" for i in range(LINES)]
            assert all(o["answer"] == "Hello from the fake." for o in out), [
                o for o in out if o["answer"] is None
            ][:3]
            # Only lines not answered before the kill were sent again: at most those in flight
            # (16 per provider) twice.
            resent = [o for o in out if o["cortex"]["resent"]]
            assert now["resent"] == len(resent) <= 3 * 16
            sent_after = len(anthropic.requests) + len(openai.requests) - sent_before
            assert sent_after >= LINES - before
            with sqlite3.connect(home / "state" / "ledger.sqlite3") as db:
                calls = {c for (c,) in db.execute("SELECT call_id FROM batch_lines")}
                rows = db.execute(
                    "SELECT count(*), count(DISTINCT call_id) FROM batch_lines"
                ).fetchone()
            assert rows == (LINES, LINES) and None not in calls
            listed = cortex(daemon.socket, "batch", "list")
            assert batch_id in listed.stdout and "done" in listed.stdout
        finally:
            daemon.stop()
            remove_home(home)


def test_provider_batches_survive_kill_9_while_pending_and_inside_a_create(
    tmp_path: Path,
) -> None:
    """`--provider-batch` against a real daemon: killed while Anthropic's batch is still in
    progress and while OpenAI's create has made its batch but not answered. Started again,
    the daemon takes both up (the second found by its key), submits nothing twice, and
    fills the output at the batch price."""
    lines = 40
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    models = ("sonnet", "gpt-4o")
    source.write_text(
        "".join(
            json.dumps({"id": f"P{i}", "prompt": f"Tag #{i}", "model": models[i % 2]}) + "\n"
            for i in range(lines)
        )
    )
    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        anthropic.message_batches.polls = 10**6
        openai.batches.lose_create = Hang()
        env = cloud_env(anthropic, openai)
        daemon = start_daemon(home, env)
        try:
            ran = cortex(
                daemon.socket, "batch", "run", str(source), "-o", str(output), "--yes",
                "--detach", "--json", "--provider-batch", "--poll", "0.2",
            )  # fmt: skip
            assert ran.returncode == 0, ran.stderr
            batch_id = json.loads(ran.stdout.splitlines()[1])["id"]
            wait_for(
                lambda: (
                    len(anthropic.message_batches.batches) == 1 and len(openai.batches.batches) == 1
                ),
                "both batches made at the providers",
                timeout=60,
            )
            db_path = home / "state" / "ledger.sqlite3"
            wait_for(
                lambda: _states(db_path) == {"anthropic": "submitted", "openai": "submitting"},
                "the journal to hold both",
                timeout=30,
            )
            daemon.signal(signal.SIGKILL)
            daemon.wait(10)
            assert not output.exists() or output.read_text() == ""
            for batch in anthropic.message_batches.batches.values():
                batch.polls_left = 0  # the provider finishes it while the daemon is down
            daemon = start_daemon(home, env)
            now = _until_done(daemon.socket, batch_id)
            assert now["state"] == "done" and now["done"] == lines, now
            assert len(anthropic.message_batches.batches) == 1
            assert len(openai.batches.batches) == 1  # found again, not made twice
            out = [json.loads(line) for line in output.read_text().splitlines()]
            assert [o["id"] for o in out] == [f"P{i}" for i in range(lines)]
            assert all(o["answer"] == "Hello from the fake." for o in out)
            chat = ("/v1/messages", "/v1/chat/completions")
            assert not [r for r in anthropic.requests + openai.requests if r.path in chat]
            with sqlite3.connect(db_path) as db:
                batched = db.execute(
                    "SELECT count(*), count(DISTINCT batch) FROM calls WHERE batch IS NOT NULL"
                ).fetchone()
            assert batched == (lines, 2)
            status = cortex(daemon.socket, "batch", "status", batch_id)
            assert "anthropic batch msgbatch_" in status.stdout and "collected" in status.stdout
        finally:
            daemon.stop()
            remove_home(home)


def _states(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as db:
        return dict(db.execute("SELECT provider, state FROM provider_batches").fetchall())


def _until_done(socket: Path, batch_id: str, timeout: float = 90.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    now: dict[str, object] = {}
    while time.monotonic() < deadline:
        status = cortex(socket, "batch", "status", batch_id, "--json")
        now = json.loads(status.stdout)
        if now["state"] != "running":
            break
        time.sleep(0.3)
    return now

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

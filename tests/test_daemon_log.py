"""The daemon's log says what a person cares about, in a form that fits where it goes:
journald's ``<N>`` priorities only when stderr is the journal (systemd's device:inode
check), and neither APScheduler's every job run nor a line per answered attempt (issue 25)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from support.daemon import cloud_env, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI

from cortexd.daemon.run import to_journal


def test_the_journal_is_told_by_its_device_and_inode_not_by_the_variable(tmp_path: Path) -> None:
    journal, other = tmp_path / "journal", tmp_path / "other"
    journal.write_text("")
    other.write_text("")
    found = os.stat(journal)
    stream = f"{found.st_dev}:{found.st_ino}"
    with journal.open() as inherited, other.open() as redirected:
        assert to_journal(stream, inherited) is True
        assert to_journal(stream, redirected) is False  # a child's stderr sent elsewhere
        assert to_journal(None, inherited) is False
        assert to_journal("not:numbers", inherited) is False
        assert to_journal("12", inherited) is False


def test_a_daemon_writing_to_a_file_logs_plain_lines_without_the_schedules_chatter() -> None:
    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        daemon = start_daemon(home, cloud_env(anthropic, openai), "--background-after", "0")
        try:
            client = daemon.client()
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 200
            deadline = time.monotonic() + 10
            while not {"watching", "local rows:"} <= set(_words(daemon.log.read_text())):
                assert time.monotonic() < deadline  # the inbox has started, the probe run
                time.sleep(0.05)
        finally:
            daemon.stop()
            text = daemon.log.read_text()
            remove_home(home)
    lines = [line for line in text.splitlines() if line.strip()]
    assert any("cortexd serving on" in line for line in lines)
    # One line for each thing a person cares about: the routing file, the keys (never their
    # values), the local rows and why they are off; none of uvicorn's own start-up steps.
    assert any("routing file " in line and "task types" in line for line in lines)
    assert any("anthropic: key from environment" in line for line in lines)
    assert any("local rows: none active; off, " in line for line in lines)
    assert "Started server process" not in text and "Waiting for application" not in text
    assert not [line for line in lines if line.startswith("<")]  # no journald priorities
    assert "apscheduler" not in text and "partial" not in text
    assert " ok" not in " ".join(line for line in lines if "attempt " in line)


def test_a_client_that_leaves_mid_body_is_one_line_not_a_traceback() -> None:
    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        daemon = start_daemon(home, cloud_env(anthropic, openai))
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(daemon.socket))
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: cortexd\r\n"
                    b'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"model":'
                )
                time.sleep(0.3)  # the handler is reading the body when the client goes
            deadline = time.monotonic() + 10
            while "left before its request" not in daemon.log.read_text():
                assert time.monotonic() < deadline, daemon.log.read_text()[-2000:]
                time.sleep(0.05)
            # The daemon serves on.
            assert daemon.client().get("/v1/health").status_code == 200
        finally:
            daemon.stop()
            text = daemon.log.read_text()
            remove_home(home)
    assert "Traceback" not in text and "ERROR" not in text
    assert "a client left before its request to /v1/chat/completions was read" in text


def _words(text: str) -> list[str]:
    """The markers the start-up test waits for that `text` holds."""
    return [marker for marker in ("watching", "local rows:") if marker in text]

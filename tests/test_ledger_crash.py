"""kill -9 of a daemon under load: every call that got its whole answer is on record."""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Iterator

import httpx2
import pytest
from support.canary import ANTHROPIC_KEY
from support.daemon import remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, Turn
from support.waiting import wait_for

KEY_A = ANTHROPIC_KEY


@pytest.fixture
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


# httpx2's Unix-socket transport leaves its socket to the garbage collector when a connect
# fails, as every client's next call does once the daemon is dead.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_kill_9_under_load_loses_no_answered_call(anthropic_fake: FakeAnthropic) -> None:
    anthropic_fake.enqueue(*[Turn(text="answer " * 5, chunk_delay=0.002) for _ in range(5000)])
    home = short_home()
    env = {"ANTHROPIC_API_KEY": KEY_A, "ANTHROPIC_BASE_URL": anthropic_fake.base_url}
    daemon = start_daemon(home, env)
    answered: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(streaming: bool) -> None:
        with httpx2.Client(transport=httpx2.HTTPTransport(uds=str(daemon.socket))) as http:
            body = {
                "model": "haiku",
                "messages": [{"role": "user", "content": "Say something"}],
                "stream": streaming,
            }
            while not stop.is_set():
                try:
                    if streaming:
                        with http.stream(
                            "POST", "http://cortexd/v1/chat/completions", json=body, timeout=10
                        ) as answer:
                            lines = list(answer.iter_lines())
                        if lines[-2:-1] == ["data: [DONE]"] or "data: [DONE]" in lines:
                            block = next(line for line in lines if '"cortex"' in line)
                            call_id = block.split('"id":"', 2)[2].split('"', 1)[0]
                        else:
                            continue
                    else:
                        answer = http.post(
                            "http://cortexd/v1/chat/completions", json=body, timeout=10
                        )
                        if answer.status_code != 200:
                            continue
                        call_id = answer.json()["cortex"]["id"]
                except (httpx2.HTTPError, ValueError, StopIteration, IndexError):
                    continue  # the daemon died under this call: it was never answered
                with lock:
                    answered.append(call_id)

    threads = [threading.Thread(target=load, args=(n % 2 == 0,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(answered) >= 150, "150 answered calls", timeout=30)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(10)
        stop.set()
        for thread in threads:
            thread.join(15)
        assert len(answered) >= 150, daemon.output()
        db = sqlite3.connect(home / "state" / "ledger.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        recorded = {cid for (cid,) in db.execute("SELECT id FROM calls")}
        missing = set(answered) - recorded
        assert not missing, f"{len(missing)} answered calls are not on record"
        with_attempts = {
            cid for (cid,) in db.execute("SELECT DISTINCT call_id FROM attempts WHERE outcome='ok'")
        }
        assert set(answered) <= with_attempts
        db.close()
    finally:
        stop.set()
        daemon.stop()
        remove_home(home)

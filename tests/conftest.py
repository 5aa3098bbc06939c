"""Shared fixtures: the shipped seed routing file, and a helper that writes routing files."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

# Imported whole before any in-process application starts: its start-up loads the ollama
# SDK (which imports httpx) on a thread, and the openai SDK used by a test on this thread
# reads sys.modules["httpx"]; a half-imported module there fails the test at random.
import httpx  # noqa: F401
import openai
import pytest
from support.app import App, start_app
from support.canary import ANTHROPIC_KEY, CANARIES, OPENAI_KEY, leaks
from support.daemon import cloud_env, remove_home
from support.fakes import FakeAnthropic, FakeOpenAI

WriteRouting = Callable[..., Path]


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The routing file shipped with cortexd (the user's seed), read as package data."""
    return files("cortexd.context").joinpath("model-routing.md").read_text(encoding="utf-8")


@pytest.fixture
def write_routing(tmp_path: Path) -> WriteRouting:
    """Write a routing file under `tmp_path` and return its path.

    ``write_routing(text)`` writes UTF-8 text exactly as given (no newline translation, so
    CRLF survives); bytes are written as they are; ``name`` may contain folders.
    """

    def write(content: str | bytes, name: str = "model-routing.md") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, as the daemon does."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_daemon_of_the_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a cortexd the developer runs: the default socket leads nowhere."""
    monkeypatch.setenv("CORTEX_SOCKET", str(tmp_path / "no-daemon.sock"))


@pytest.fixture
def anthropic_fake() -> Iterator[FakeAnthropic]:
    """A fake Anthropic Messages API on loopback (see tests/support/fakes)."""
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI API (Chat Completions, Responses, Embeddings) on loopback."""
    with FakeOpenAI() as fake:
        yield fake


class _Everything(logging.Handler):
    """Keeps every log line of the run, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


@pytest.fixture(scope="session", autouse=True)
def _canary_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Canary API keys are configured for the whole run; at its end no log line, and no
    database, report or log under the run's temp folder, may hold one."""
    saved = {name: os.environ.get(name) for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    os.environ["ANTHROPIC_API_KEY"], os.environ["OPENAI_API_KEY"] = ANTHROPIC_KEY, OPENAI_KEY
    handler = _Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    logged = [line for line in handler.lines if any(key in line for key in CANARIES)]
    assert not logged, f"an API key was logged: {logged[:3]}"
    leaked = leaks(tmp_path_factory.getbasetemp())
    assert not leaked, f"an API key was written to {leaked}"


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeOpenAI]]:
    """Fake Anthropic and OpenAI servers, one pair per test module."""
    with FakeAnthropic() as anthropic_fake, FakeOpenAI() as openai_fake:
        yield anthropic_fake, openai_fake


@pytest.fixture(scope="module")
def app(fakes: tuple[FakeAnthropic, FakeOpenAI]) -> Iterator[App]:
    """The real cortexd application in-process, with both keys, pointed at `fakes`, one per
    test module: the way to write an API test (see docs/testing.md)."""
    anthropic_fake, openai_fake = fakes
    running = start_app(env=cloud_env(anthropic_fake, openai_fake))
    yield running
    running.stop()
    remove_home(running.home)


@pytest.fixture
def fresh(fakes: tuple[FakeAnthropic, FakeOpenAI]) -> tuple[FakeAnthropic, FakeOpenAI]:
    """`fakes` with their scripts and recorded requests cleared."""
    for fake in fakes:
        fake.clear()
    return fakes


@pytest.fixture
def sdk(app: App) -> Iterator[openai.OpenAI]:
    """The official openai SDK on `app`, through the ASGI transport."""
    client = app.sdk()
    yield client
    client.close()

"""Shared fixtures: the shipped seed routing file, and a helper that writes routing files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

import pytest
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

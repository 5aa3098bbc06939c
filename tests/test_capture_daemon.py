"""Drop-in capture through the real app, its model the fake Anthropic API (the seed's
"Quick capture / filing" route is haiku → sonnet): files dropped by cp, by a slow writer, by
a rename; editors' temporaries left alone; links, binaries and model failures to failed/;
a kill -9 of a real daemon in the middle of a filing, then a restart: one note;
``cortex capture``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import waiting
from support.app import App, start_app
from support.canary import ANTHROPIC_KEY, OPENAI_KEY
from support.cli import cortex
from support.daemon import remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI, Fault, Turn

#: Long enough for a settle (2 s), a model call and a fallback on a loaded 2-core machine.
DEADLINE_S = 60.0

Fakes = tuple[FakeAnthropic, FakeOpenAI]


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE_S) -> None:
    waiting.wait_for(condition, what, timeout)


def context(app: App) -> Path:
    return app.home / "context"


def inbox(app: App) -> Path:
    return context(app) / "inbox"


def notes(home: Path) -> set[Path]:
    return set((home / "context" / "captured").rglob("*.md"))


def filing(title: str, category: str = "Work", delay: float = 0.0, **more: object) -> Turn:
    answer = {"title": title, "category": category, "tags": ["t1"], "summary": f"About {title}."}
    return Turn(text=json.dumps({**answer, **more}), delay=delay)


def posts(fake: FakeAnthropic) -> list[dict[str, object]]:
    return [r.json for r in fake.requests if r.method == "POST"]


def new_note(app: App, before: set[Path]) -> Path:
    """The one note filed since `before` (waits for it; fails on two)."""
    wait_for(lambda: notes(app.home) - before, "a note under captured/")
    time.sleep(0.2)
    (note,) = notes(app.home) - before
    return note


def settled(app: App) -> bool:
    processing = inbox(app) / ".processing"
    return not processing.exists() or os.listdir(processing) == []


def reason(app: App, name: str) -> str:
    path = inbox(app) / "failed" / f"{name}.reason.txt"
    moved = inbox(app) / "failed" / name
    # The daemon writes the reason first, then moves the file (a kill in between leaves it
    # claimed, to be tried again): wait for both, or a loaded machine sees the gap.
    wait_for(lambda: path.exists() and os.path.lexists(moved), f"failed/{name} and its reason")
    return path.read_text()


@pytest.fixture
def drafts(app: App) -> Path:
    """A folder beside the inbox, on the same file system (for renames into it)."""
    folder = app.home / "drafts"
    folder.mkdir(exist_ok=True)
    return folder


def test_a_copied_note_is_filed_once_with_front_matter(
    app: App, fresh: Fakes, drafts: Path
) -> None:
    anthropic, _ = fresh
    anthropic.enqueue(filing("Standup notes", tags=["standup", "team"]))
    before = notes(app.home)
    source = drafts / "standup.md"
    source.write_text("# Standup\n\n- ship the inbox\n")
    shutil.copy(source, inbox(app) / "standup.md")
    note = new_note(app, before)
    assert note.parent.name == "work" and note.name.endswith("-standup-notes.md")
    text = note.read_text()
    assert text.startswith('---\ntitle: "Standup notes"\ncategory: "work"\n')
    assert 'tags: ["standup", "team"]\nsummary: "About Standup notes."\n' in text
    assert 'source: "standup.md"' in text and "\nsource_sha256: " in text
    assert text.endswith("---\n\n# Standup\n\n- ship the inbox\n")
    wait_for(lambda: settled(app), "the claim to be cleared")
    assert not (inbox(app) / "standup.md").exists()
    (sent,) = posts(anthropic)
    assert "JSON" in json.dumps(sent["system"]) and "ship the inbox" in json.dumps(sent)
    calls = app.client().get("/v1/calls", params={"limit": 5}).json()["data"]
    assert calls[-1]["task"] == "Quick capture / filing" and calls[-1]["client"] == "capture"


def test_a_slow_writer_is_not_taken_half_written(app: App, fresh: Fakes) -> None:
    anthropic, _ = fresh
    anthropic.enqueue(filing("Slow note"))
    before = notes(app.home)
    lines = [f"line {n} of a note written slowly\n" for n in range(8)]
    with (inbox(app) / "slow.md").open("w") as handle:
        for line in lines:  # about 2.4 s in all, never quiet for the 2 s a file must settle
            handle.write(line)
            handle.flush()
            time.sleep(0.3)
    note = new_note(app, before)
    assert note.read_text().endswith("---\n\n" + "".join(lines))
    assert len(posts(anthropic)) == 1


def test_a_note_renamed_into_the_inbox_is_filed(app: App, fresh: Fakes, drafts: Path) -> None:
    anthropic, _ = fresh
    anthropic.enqueue(filing("Moved in", category="Personal Life"))
    before = notes(app.home)
    (drafts / "moved.md").write_text("moved by rename\n")
    os.rename(drafts / "moved.md", inbox(app) / "moved.md")
    note = new_note(app, before)
    assert note.parent.name == "personal-life"
    assert note.read_text().endswith("\n\nmoved by rename\n")


def test_editor_swap_files_and_partial_downloads_are_left_alone(app: App, fresh: Fakes) -> None:
    anthropic, _ = fresh
    anthropic.enqueue(filing("Real note"))
    before = notes(app.home)
    ignored = [".real.md.swp", "real.md~", ".#real.md", "paper.pdf.part", "x.crdownload", "4913"]
    for name in ignored:
        (inbox(app) / name).write_text("temporary\n")
    (inbox(app) / "real.md").write_text("the real note\n")
    note = new_note(app, before)
    assert note.read_text().endswith("\n\nthe real note\n")
    time.sleep(3)  # longer than a settle: nothing else is taken
    assert notes(app.home) - before == {note}
    assert all((inbox(app) / name).exists() for name in ignored)
    assert len(posts(anthropic)) == 1
    for name in ignored:
        (inbox(app) / name).unlink()


def test_a_symlink_is_refused_and_its_target_untouched(app: App, fresh: Fakes) -> None:
    anthropic, _ = fresh
    secret = app.home / "secret.env"
    secret.write_text("TOKEN=do-not-send\n")
    os.symlink(secret, inbox(app) / "link.md")
    assert "symbolic link refused" in reason(app, "link.md")
    assert (inbox(app) / "failed" / "link.md").is_symlink()
    assert secret.read_text() == "TOKEN=do-not-send\n"
    assert posts(anthropic) == []


def test_a_binary_file_goes_to_failed(app: App, fresh: Fakes) -> None:
    anthropic, _ = fresh
    (inbox(app) / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    assert "binary file" in reason(app, "photo.jpg")
    assert (inbox(app) / "failed" / "photo.jpg").exists()
    assert posts(anthropic) == []


def test_when_every_model_fails_the_file_goes_to_failed(app: App, fresh: Fakes) -> None:
    anthropic, _ = fresh
    anthropic.enqueue(*[Fault.status(500)] * 8)  # haiku and sonnet, each with its one retry
    before = notes(app.home)
    (inbox(app) / "doomed.md").write_text("a note no model will file\n")
    said = reason(app, "doomed.md")
    assert "model call failed" in said and "move the file back into the inbox" in said
    assert (inbox(app) / "failed" / "doomed.md").read_text() == "a note no model will file\n"
    assert notes(app.home) == before
    wait_for(lambda: settled(app), "the claim to be cleared")


def test_cortex_capture_files_through_the_socket(app: App, fresh: Fakes, drafts: Path) -> None:
    anthropic, _ = fresh
    anthropic.enqueue(filing("From the CLI"), filing("From stdin", category="ideas"))
    (drafts / "cli.md").write_text("sent with cortex capture\n")
    out = cortex(app.socket, "capture", str(drafts / "cli.md"))
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.parent == context(app) / "captured" / "work"
    assert 'source: "cli.md"' in path.read_text() and "[work] From the CLI" in out.stderr
    out = cortex(app.socket, "capture", "-", "--json", stdin="an idea from stdin\n")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["category"] == "ideas" and answer["title"] == "From stdin"
    assert Path(answer["path"]).read_text().endswith("\n\nan idea from stdin\n")
    binary = drafts / "blob.bin"
    binary.write_bytes(b"\x00\x01")
    out = cortex(app.socket, "capture", str(binary))
    assert out.returncode == 1 and "NUL" in out.stderr


def test_the_api_refuses_what_is_not_a_note(app: App) -> None:
    client = app.client()
    answer = client.post("/v1/capture", json={"text": "a\u0000b"})
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]["message"]
    answer = client.post("/v1/capture", json={"text": "x" * (1024 * 1024 + 1)})
    assert answer.status_code == 413
    assert client.post("/v1/capture", json={"name": "x"}).status_code == 400


@pytest.fixture
def own_home() -> Iterator[Path]:
    home = short_home()
    yield home
    remove_home(home)


def test_a_kill_during_filing_then_a_restart_files_the_note_once(
    fresh: Fakes, own_home: Path
) -> None:
    anthropic, openai_fake = fresh
    env = {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
        "ANTHROPIC_BASE_URL": anthropic.base_url,
        "OPENAI_BASE_URL": openai_fake.base_url,
    }
    first = start_daemon(own_home, env)
    try:
        anthropic.enqueue(filing("Survives a kill", delay=30.0))
        (own_home / "context" / "inbox" / "kill.md").write_text("filed exactly once\n")
        wait_for(lambda: posts(anthropic), "the model call")
        processing = own_home / "context" / "inbox" / ".processing"
        assert any(p.name == "kill.md" for p in processing.rglob("*"))  # claimed, not filed
        first.process.kill()  # SIGKILL: no shutdown of any kind
        first.process.wait(20)
    finally:
        first.stop()
    assert notes(own_home) == set()
    anthropic.enqueue(filing("Survives a kill"))
    second = start_app(own_home, env)  # the restart: the same application, in-process
    try:
        wait_for(lambda: notes(own_home), "the resumed note")
        wait_for(lambda: os.listdir(processing) == [], "the claim to be cleared")
        time.sleep(3)
        (note,) = notes(own_home)
        assert note.read_text().endswith("\n\nfiled exactly once\n")
        assert sorted(os.listdir(own_home / "context" / "inbox")) == [".processing"]
        assert len(posts(anthropic)) == 2
    finally:
        second.stop()

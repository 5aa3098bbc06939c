"""Drop-in capture's parts on real folders: the model's JSON checked, names that cannot
escape captured/, front matter, files refused (links, binary, too large), and the claims
that make each dropped file filed exactly once — also when a run was killed half-way.

The model is a scripted `Ask` (the daemon's is its own chat route, tested in
test_capture_daemon.py)."""

from __future__ import annotations

import doctest
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

from cortexd import capture
from cortexd.capture import (
    FAILED,
    PROCESSING,
    Answer,
    Capture,
    Filing,
    FilingError,
    InvalidFilingError,
    Journal,
    NoteFacts,
    RefusedError,
    Settling,
    Shelf,
    Signature,
    TooLargeError,
    UnsafeFolderError,
    _note,
    _readiness,
    _source,
    category_slug,
    classify,
    ignored,
    parse_filing,
    render_note,
    slugify,
    source_from_bytes,
)

pytestmark = pytest.mark.anyio

WHEN = datetime(2025, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=1)))
GOOD = {"title": "Call Sam about Q3", "category": "Work", "tags": ["q3", "Sam"], "summary": "Sam."}


class ScriptedAsk:
    """A model that answers from a list, and records what it was asked."""

    def __init__(self, *answers: str | Exception) -> None:
        self.answers = list(answers)
        self.asked: list[list[dict[str, str]]] = []

    async def __call__(self, messages: Sequence[Mapping[str, str]]) -> Answer:
        self.asked.append([dict(m) for m in messages])
        if not self.answers:
            raise AssertionError("the model was asked more often than scripted")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Answer(answer, "claude-haiku-test")


def good(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def notes(context: Path) -> list[Path]:
    return sorted((context / "captured").rglob("*.md"))


def claim_file(service: Capture, name: str, data: bytes) -> capture.Claim:
    (service.inbox.path).mkdir(parents=True, exist_ok=True)
    (service.inbox.path / name).write_bytes(data)
    with service.inbox.open() as inbox:
        claimed = service.inbox.claim(inbox, name)
    assert claimed is not None
    return claimed


@pytest.mark.parametrize("module", [_note, _readiness, _source, capture._filing])
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(capture).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("cortexd.")
    }
    assert public <= set(capture.__all__)
    assert all(hasattr(capture, name) for name in capture.__all__)


# -- the model's JSON -------------------------------------------------------------------------


def test_a_filing_is_normalised() -> None:
    filing = parse_filing(
        '```json\n{"title": " Call\\n Sam ", "category": "Work", "tags": "A, b, a, ",'
        ' "summary": "One\\tline.", "extra": 1}\n```'
    )
    assert filing == Filing(title="Call Sam", category="Work", tags=("a", "b"), summary="One line.")


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("Sure! Here it is.", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"title": "x", "category": "a", "tags": []}', "summary"),
        (good(title=""), "title"),
        (good(title="x" * 201), "title"),
        (good(tags=[1, 2]), "tags"),
        (good(summary=None), "summary"),
    ],
)
def test_a_wrong_answer_says_what_is_wrong(answer: str, says: str) -> None:
    with pytest.raises(InvalidFilingError, match=says):
        parse_filing(answer)


async def test_a_wrong_answer_is_asked_again_once_with_the_error() -> None:
    ask = ScriptedAsk("not json", good())
    filing, answer = await classify(ask, "Call Sam.", "note.md", ["work", "home"])
    assert filing.title == "Call Sam about Q3" and answer.model == "claude-haiku-test"
    assert len(ask.asked) == 2
    assert "not JSON" in ask.asked[1][-1]["content"]
    assert ask.asked[1][-2] == {"role": "assistant", "content": "not json"}
    assert "home, work" in ask.asked[0][0]["content"]  # the categories in use are offered
    assert "Call Sam." in ask.asked[0][1]["content"]


async def test_two_wrong_answers_fail() -> None:
    with pytest.raises(FilingError, match="twice"):
        await classify(ScriptedAsk("nope", '{"title": 3}'), "text", None)


async def test_a_long_note_is_shown_to_the_model_in_part() -> None:
    ask = ScriptedAsk(good())
    await classify(ask, "word " * 10_000, "long.md")
    shown = ask.asked[0][1]["content"]
    assert len(shown) < 21_000 and "rest of the note is not shown" in shown


# -- names and the note -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "folder"),
    [
        ("Work", "work"),
        ("../../etc", "etc"),
        ("/abs/path", "abs-path"),
        ("..", "misc"),
        ("", "misc"),
        ("   ", "misc"),
        ("Ünïcode Café", "ünïcode-café"),
        ("a" * 100, "a" * 40),
        ("x\x00y\nz", "x-y-z"),
    ],
)
def test_a_category_is_one_safe_folder_name(category: str, folder: str) -> None:
    assert category_slug(category) == folder


@pytest.mark.parametrize(
    "title",
    ["../../../.ssh/authorized_keys", "/etc/passwd", "..", "a/b\\c", "\x00x\x01", "...", "日本語"],
)
def test_a_title_gives_one_safe_file_name(title: str) -> None:
    name = capture.note_name(Filing(title=title, category="c", summary="s"), WHEN)
    assert "/" not in name and "\\" not in name and ".." not in name and "\x00" not in name
    assert name.startswith("2025-03-04-") and name.endswith(".md")
    assert slugify(title) in name


def test_the_note_has_front_matter_and_the_original_text() -> None:
    text = '# Sam\r\n\r\nCall about "Q3": yes\n---\n'
    filing = Filing(title='No: "quoted"', category="Work", tags=("q3", "yes"), summary="S.")
    facts = NoteFacts(WHEN, "bad\nname\udcff.md", "ab" * 32, "claude-haiku-test")
    note = render_note(filing, text, facts)
    head, body = note.split("\n---\n\n", 1)
    assert body == text
    assert head.splitlines() == [
        "---",
        'title: "No: \\"quoted\\""',
        'category: "work"',
        'tags: ["q3", "yes"]',
        'summary: "S."',
        "captured: 2025-03-04T09:30:00+01:00",
        'source: "bad?name\ufffd.md"',
        f"source_sha256: {'ab' * 32}",
        'model: "claude-haiku-test"',
    ]


# -- what is taken, and when -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [".note.md.swp", "note.md.swp", "note.md~", ".#note.md", "#note.md#", "4913", "a.part",
     "a.PART", "b.crdownload", "c.tmp", ".hidden", "~$doc.md", "x.kate-swp", "y.download"],
)  # fmt: skip
def test_editor_and_download_temporaries_are_ignored(name: str) -> None:
    assert ignored(name)


@pytest.mark.parametrize("name", ["note.md", "todo.txt", "2024 plan", "notes.markdown", "a~b"])
def test_notes_are_not_ignored(name: str) -> None:
    assert not ignored(name)


def test_a_file_settles_when_unchanged_long_enough() -> None:
    settling = Settling(2.0)
    sig = Signature(1, 10, 0, 1000 * 10**9, 0o100644)
    grown = Signature(1, 20, 1, 1001 * 10**9, 0o100644)
    assert not settling.ready("a", sig, now=0.0, wall=1000.5)
    assert not settling.ready("a", sig, now=1.0, wall=1001.0)  # changed 1 s ago
    assert not settling.ready("a", grown, now=1.5, wall=1001.5)  # written to: starts again
    assert not settling.ready("a", grown, now=3.0, wall=1002.9)
    assert settling.ready("a", grown, now=3.6, wall=1003.1)
    # A change time in the future (a clock set back) still settles by watching.
    ahead = Signature(2, 5, 0, 5000 * 10**9, 0o100644)
    assert not settling.ready("b", ahead, now=10.0, wall=1000.0)
    assert not settling.ready("b", ahead, now=11.0, wall=1001.0)
    assert settling.ready("b", ahead, now=12.0, wall=1002.0)
    settling.keep_only({"a"})
    assert not settling.ready("b", ahead, now=13.0, wall=1003.0)  # forgotten: a first look


# -- files refused ----------------------------------------------------------------------------


def test_text_checks() -> None:
    assert (
        source_from_bytes("héllo".encode()).sha256 == hashlib.sha256("héllo".encode()).hexdigest()
    )
    with pytest.raises(RefusedError, match="NUL"):
        source_from_bytes(b"abc\x00def")
    with pytest.raises(RefusedError, match="not UTF-8"):
        source_from_bytes(b"caf\xe9")
    with pytest.raises(RefusedError, match="no text"):
        source_from_bytes(b" \n\t")
    with pytest.raises(TooLargeError):
        source_from_bytes(b"x" * 11, limit=10)


async def test_a_note_is_filed_and_its_claim_cleared(tmp_path: Path) -> None:
    service = Capture(tmp_path, ScriptedAsk(good()), now=lambda: WHEN)
    claim = claim_file(service, "call.md", b"Call Sam about Q3.\n")
    filed = await service.process(claim)
    assert filed is not None
    assert filed.path == tmp_path / "captured" / "work" / "2025-03-04-call-sam-about-q3.md"
    text = filed.path.read_text()
    assert text.startswith('---\ntitle: "Call Sam about Q3"\n') and text.endswith(
        "---\n\nCall Sam about Q3.\n"
    )
    digest = hashlib.sha256(b"Call Sam about Q3.\n").hexdigest()
    assert f"\nsource_sha256: {digest}\n" in text
    assert os.listdir(tmp_path / "inbox" / PROCESSING) == []
    assert os.listdir(tmp_path / "inbox") == [PROCESSING]


async def test_same_titles_get_numbered_names(tmp_path: Path) -> None:
    service = Capture(tmp_path, ScriptedAsk(good(), good(), good()), now=lambda: WHEN)
    for n in range(3):
        await service.process(claim_file(service, f"n{n}.md", f"note {n}".encode()))
    assert [p.name for p in notes(tmp_path)] == [
        "2025-03-04-call-sam-about-q3-2.md",
        "2025-03-04-call-sam-about-q3-3.md",
        "2025-03-04-call-sam-about-q3.md",
    ]


def failed_reason(context: Path, name: str) -> str:
    return (context / "inbox" / FAILED / f"{name}.reason.txt").read_text()


async def test_a_symlink_is_refused_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("API_KEY=hunter2\n")
    ask = ScriptedAsk()
    service = Capture(tmp_path / "ctx", ask)
    (service.inbox.path).mkdir(parents=True)
    (service.inbox.path / "link.md").symlink_to(secret)
    with service.inbox.open() as inbox:
        claim = service.inbox.claim(inbox, "link.md")
    assert claim is not None
    assert await service.process(claim) is None
    moved = tmp_path / "ctx" / "inbox" / FAILED / "link.md"
    assert moved.is_symlink() and secret.read_text() == "API_KEY=hunter2\n"
    assert "symbolic link refused" in failed_reason(tmp_path / "ctx", "link.md")
    assert ask.asked == []


async def test_hard_links_fifos_binaries_and_large_files_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("key\n")
    service = Capture(tmp_path / "ctx", ScriptedAsk(), limit=100)
    service.inbox.path.mkdir(parents=True)
    os.link(secret, service.inbox.path / "hard.md")
    os.mkfifo(service.inbox.path / "pipe.md")
    (service.inbox.path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (service.inbox.path / "big.md").write_bytes(b"x" * 101)
    for name in ("hard.md", "pipe.md", "image.png", "big.md"):
        with service.inbox.open() as inbox:
            claim = service.inbox.claim(inbox, name)
        assert claim is not None
        await service.process(claim)
    ctx = tmp_path / "ctx"
    assert "hard link refused" in failed_reason(ctx, "hard.md")
    assert "not a regular file" in failed_reason(ctx, "pipe.md")
    assert "binary" in failed_reason(ctx, "image.png")
    assert "too large" in failed_reason(ctx, "big.md")
    assert secret.read_text() == "key\n" and notes(ctx) == []
    # The end-of-run scan for leaked keys reads every file: a FIFO would block it.
    (ctx / "inbox" / FAILED / "pipe.md").unlink()


async def test_failed_names_do_not_collide(tmp_path: Path) -> None:
    service = Capture(tmp_path, ScriptedAsk("x", "y", "x", "y"))
    for _ in range(2):
        await service.process(claim_file(service, "n.md", b"text"))
    failed = sorted(os.listdir(tmp_path / "inbox" / FAILED))
    assert failed == ["n-2.md", "n-2.md.reason.txt", "n.md", "n.md.reason.txt"]
    assert "not a valid filing twice" in failed_reason(tmp_path, "n.md")
    assert "move the file back into the inbox" in failed_reason(tmp_path, "n.md")


async def test_a_model_failure_fails_the_file(tmp_path: Path) -> None:
    boom = FilingError("the model call failed (HTTP 503): every model failed", 503)
    service = Capture(tmp_path, ScriptedAsk(boom))
    await service.process(claim_file(service, "n.md", b"text"))
    assert "HTTP 503" in failed_reason(tmp_path, "n.md")


async def test_a_category_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "ctx" / "captured").mkdir(parents=True)
    (tmp_path / "ctx" / "captured" / "work").symlink_to(outside)
    service = Capture(tmp_path / "ctx", ScriptedAsk(good()))
    await service.process(claim_file(service, "n.md", b"text"))
    assert os.listdir(outside) == []
    assert "symbolic link" in failed_reason(tmp_path / "ctx", "n.md")
    with pytest.raises(UnsafeFolderError):
        Shelf(tmp_path / "ctx" / "captured").file(Filing(**GOOD), "x", WHEN)


async def test_capture_text_files_like_a_dropped_file(tmp_path: Path) -> None:
    service = Capture(tmp_path, ScriptedAsk(good(category="../..")), now=lambda: WHEN)
    filed = await service.capture_text("Call Sam.", "stdin")
    assert filed.path == tmp_path / "captured" / "misc" / "2025-03-04-call-sam-about-q3.md"
    assert 'source: "stdin"' in filed.path.read_text()
    with pytest.raises(RefusedError, match="NUL"):
        await service.capture_text("a\x00b", "stdin")


# -- exactly once, across a kill ---------------------------------------------------------------


async def test_a_claim_left_before_the_model_answered_is_filed_once(tmp_path: Path) -> None:
    first = Capture(tmp_path, ScriptedAsk(), now=lambda: WHEN)
    claim_file(first, "n.md", b"text")  # claimed, then the daemon was killed
    ask = ScriptedAsk(good())
    again = Capture(tmp_path, ask, now=lambda: WHEN)
    for claim in again.inbox.leftovers():
        await again.process(claim)
    assert len(notes(tmp_path)) == 1 and len(ask.asked) == 1
    assert os.listdir(tmp_path / "inbox" / PROCESSING) == []


async def test_a_journal_left_before_the_note_was_written_is_used(tmp_path: Path) -> None:
    first = Capture(tmp_path, ScriptedAsk(), now=lambda: WHEN)
    claim = claim_file(first, "n.md", b"text")
    digest = hashlib.sha256(b"text").hexdigest()
    first.inbox.record(claim, Journal(digest, Filing(**GOOD), WHEN, "claude-haiku-test"))
    again = Capture(tmp_path, ScriptedAsk())  # asking the model would fail the test
    (left,) = again.inbox.leftovers()
    await again.process(left)
    (note,) = notes(tmp_path)
    assert note.name == "2025-03-04-call-sam-about-q3.md"
    assert 'model: "claude-haiku-test"' in note.read_text()


async def test_a_kill_after_the_note_was_written_files_nothing_twice(tmp_path: Path) -> None:
    # The first run wrote the note, then was killed before removing the claimed file.
    first = Capture(tmp_path, ScriptedAsk(), now=lambda: WHEN)
    claim = claim_file(first, "n.md", b"text")
    read = first.inbox.read(claim)
    journal = Journal(read.source.sha256, Filing(**GOOD), WHEN, "m")
    first.inbox.record(claim, journal)
    note = render_note(journal.filing, "text", NoteFacts(WHEN, "n.md", journal.sha256, "m"))
    first.shelf.file(journal.filing, note, WHEN)
    again = Capture(tmp_path, ScriptedAsk())
    (left,) = again.inbox.leftovers()
    filed = await again.process(left)
    assert filed is not None and [p.name for p in notes(tmp_path)] == [filed.path.name]
    assert os.listdir(tmp_path / "inbox" / PROCESSING) == []


async def test_leftovers_clear_empty_claims_and_orphan_journals(tmp_path: Path) -> None:
    processing = tmp_path / "inbox" / PROCESSING
    processing.mkdir(parents=True)
    (processing / "0000000000000001-abcdef01").mkdir()
    (processing / "0000000000000002-abcdef02.json").write_text("{}")
    (processing / ".0000000000000003-abcdef03.json.1234.tmp").write_text("")
    assert Capture(tmp_path, ScriptedAsk()).inbox.leftovers() == []
    assert os.listdir(processing) == []


async def test_a_processing_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "ctx" / "inbox").mkdir(parents=True)
    (tmp_path / "ctx" / "inbox" / PROCESSING).symlink_to(elsewhere)
    (tmp_path / "ctx" / "inbox" / "n.md").write_text("text")
    service = Capture(tmp_path / "ctx", ScriptedAsk())
    with service.inbox.open() as inbox, pytest.raises(UnsafeFolderError):
        service.inbox.claim(inbox, "n.md")
    assert os.listdir(elsewhere) == [] and (tmp_path / "ctx" / "inbox" / "n.md").exists()


async def test_a_file_still_changing_after_the_claim_goes_back_to_the_inbox(tmp_path: Path) -> None:
    service = Capture(tmp_path, ScriptedAsk(good(), good()), now=lambda: WHEN)
    claim = claim_file(service, "n.md", b"first half")
    claimed = tmp_path / "inbox" / PROCESSING / claim.id / "n.md"

    class WriterStillAtIt(ScriptedAsk):
        async def __call__(self, messages: Sequence[Mapping[str, str]]) -> Answer:
            with claimed.open("ab") as handle:  # the writer's open handle follows the rename
                handle.write(b" and the second half")
            return await super().__call__(messages)

    service = Capture(tmp_path, WriterStillAtIt(good()), now=lambda: WHEN)
    assert await service.process(claim) is None
    assert (tmp_path / "inbox" / "n.md").read_bytes() == b"first half and the second half"
    assert notes(tmp_path) == []

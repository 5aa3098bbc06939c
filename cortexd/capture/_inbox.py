"""The inbox's claims: a dropped file taken by one rename, its journal, and where it ends.

Layout, inside ``inbox/``::

    note.md                      dropped by the user, waiting to settle
    .processing/<id>/note.md     claimed: renamed here, atomically, before anything is read
    .processing/<id>.json        the journal: the model's filing, written before the note
    failed/note.md               what could not be filed,
    failed/note.md.reason.txt    and why

A claimed file is removed only after its note is written (and fsynced), so a kill at any
point leaves it in ``.processing/``, and the next start resumes it: with a journal, the
same note is rendered again from it, and the shelf finds it already filed (identical bytes)
or writes it; without one, the model is asked again. Either way one note is filed.

Blocking calls: run them in a thread off the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cortexd.capture._errors import CaptureError
from cortexd.capture._filing import Filing
from cortexd.capture._folders import (
    Folder,
    move_new,
    read_regular,
    write_new,
    write_replacing,
)
from cortexd.capture._note import display_name
from cortexd.capture._readiness import Signature
from cortexd.capture._source import MAX_NOTE_BYTES, Source, source_from_bytes

log = logging.getLogger("cortexd.capture")

PROCESSING = ".processing"
FAILED = "failed"
REASON_SUFFIX = ".reason.txt"
_CLAIM_ID = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{8}$")
#: Names in failed/ are cut to this many bytes, leaving room for ".reason.txt" and "-NN".
_FAILED_NAME_BYTES = 200


@dataclass(frozen=True)
class Claim:
    """A file taken from the inbox: ``.processing/<id>/<name>``."""

    id: str
    name: str


@dataclass(frozen=True)
class Journal:
    """What was decided for a claim before its note was written."""

    sha256: str
    filing: Filing
    captured: datetime
    model: str | None

    def to_json(self) -> bytes:
        """The journal file's bytes."""
        data = {
            "sha256": self.sha256,
            "filing": self.filing.model_dump(mode="json"),
            "captured": self.captured.isoformat(timespec="seconds"),
            "model": self.model,
        }
        return json.dumps(data, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Journal:
        """Read a journal file; `ValueError` when it is not one."""
        raw = json.loads(data)
        return cls(
            str(raw["sha256"]),
            Filing.model_validate(raw["filing"]),
            datetime.fromisoformat(raw["captured"]),
            raw.get("model"),
        )


@dataclass(frozen=True)
class Read:
    """A claimed file's text, and its signature when it was read."""

    source: Source
    signature: Signature


def _failed_names(name: str) -> list[str]:
    """The names to try in failed/: the name (cut when long), then ``stem-2.ext`` …"""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > _FAILED_NAME_BYTES:
        name = encoded[:_FAILED_NAME_BYTES].decode("utf-8", "ignore") or "file"
    stem, dot, suffix = name.rpartition(".")
    if not stem:  # no extension, or a name like ".x"
        stem, dot, suffix = name, "", ""
    return [name] + [f"{stem}-{n}{dot}{suffix}" for n in range(2, 1000)]


class Inbox:
    """The inbox folder and its claims."""

    def __init__(self, path: Path, limit: int = MAX_NOTE_BYTES) -> None:
        self.path = path
        self.limit = limit

    def open(self) -> Folder:
        """The inbox folder, created when missing."""
        return Folder.top(self.path)

    def claim(self, inbox: Folder, name: str) -> Claim | None:
        """Take `name` from the open inbox by renaming it (a link: the link itself) into a new
        claim folder; None when it is gone already."""
        claim = Claim(f"{time.time_ns():016x}-{secrets.token_hex(4)}", name)
        with inbox.sub(PROCESSING, mode=0o700) as processing:
            os.mkdir(claim.id, 0o700, dir_fd=processing.fd)
            try:
                os.rename(name, f"{claim.id}/{name}", src_dir_fd=inbox.fd, dst_dir_fd=processing.fd)
            except OSError as error:
                processing.remove_folder(claim.id)
                if isinstance(error, FileNotFoundError):
                    return None
                raise
            processing.sync()
        inbox.sync()
        return claim

    def leftovers(self) -> list[Claim]:
        """The claims a previous run left unfinished, oldest first; empty claim folders and
        journals without a claim are cleared."""
        claims = []
        with self.open() as inbox, inbox.sub(PROCESSING, mode=0o700) as processing:
            names = set(processing.names())
            for entry in sorted(names):
                if entry.endswith(".json") and entry[:-5] not in names:
                    processing.remove(entry)  # its note was filed, its claim removed
                elif entry.startswith(".") and entry.endswith(".tmp"):
                    processing.remove(entry)  # a journal that was being written
                elif _CLAIM_ID.match(entry):
                    with processing.sub(entry, create=False) as folder:
                        inside = sorted(folder.names())
                    if not inside:
                        processing.remove_folder(entry)
                        processing.remove(f"{entry}.json")
                        continue
                    if len(inside) > 1:
                        log.warning(
                            "claim %s holds %d files; taking %r", entry, len(inside), inside[0]
                        )
                    claims.append(Claim(entry, inside[0]))
        return claims

    def read(self, claim: Claim) -> Read:
        """The claimed file's text; `RefusedError` when it is not a text note."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            with processing.sub(claim.id, create=False) as folder:
                info = folder.lstat(claim.name)
                data = read_regular(folder, claim.name, self.limit)
        if info is None:
            raise CaptureError("the claimed file vanished")
        return Read(source_from_bytes(data, self.limit), Signature.of(info))

    def changed(self, claim: Claim, since: Signature) -> bool:
        """Whether the claimed file changed since it was read (its writer was not done)."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            with processing.sub(claim.id, create=False) as folder:
                info = folder.lstat(claim.name)
        return info is None or Signature.of(info) != since

    def give_back(self, claim: Claim) -> bool:
        """Return a claimed file to the inbox under its name; False when that name is taken
        (by a newer file)."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            with processing.sub(claim.id, create=False) as folder:
                if not move_new(folder, claim.name, inbox, claim.name):
                    return False
            self._clear(processing, claim)
        return True

    def journal(self, claim: Claim) -> Journal | None:
        """The claim's journal, if one was written (an unreadable one counts as none)."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            try:
                data = read_regular(processing, f"{claim.id}.json", self.limit)
                return Journal.from_json(data)
            except (CaptureError, ValueError, KeyError, TypeError):
                return None

    def record(self, claim: Claim, journal: Journal) -> None:
        """Write the claim's journal, durably, before its note is written."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            write_replacing(processing, f"{claim.id}.json", journal.to_json())

    def done(self, claim: Claim) -> None:
        """The claim's note is filed: remove the claimed file, its folder, its journal."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            with processing.sub(claim.id, create=False) as folder:
                folder.remove(claim.name)
                folder.sync()
            self._clear(processing, claim)

    def fail(self, claim: Claim, reason: str) -> Path:
        """Move the claimed file to ``failed/`` with a reason file beside it; its path."""
        with self.open() as inbox, inbox.sub(PROCESSING) as processing:
            with inbox.sub(FAILED) as failed, processing.sub(claim.id, create=False) as folder:
                for name in _failed_names(claim.name):
                    if failed.exists(name) or failed.exists(name + REASON_SUFFIX):
                        continue
                    # The reason first: a kill in between leaves the file claimed, to be
                    # tried again, rather than in failed/ with no word on why.
                    write_new(failed, name + REASON_SUFFIX, _reason_text(claim.name, reason))
                    if move_new(folder, claim.name, failed, name):
                        break
                    failed.remove(name + REASON_SUFFIX)
                else:
                    raise CaptureError(f"no free name in {failed.path} for {claim.name!r}")
            self._clear(processing, claim)
        return self.path / FAILED / name

    @staticmethod
    def _clear(processing: Folder, claim: Claim) -> None:
        processing.remove_folder(claim.id)
        processing.remove(f"{claim.id}.json")
        processing.sync()


def _reason_text(name: str, reason: str) -> bytes:
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    return (
        f"cortexd could not file {display_name(name)!r} ({when}):\n"
        f"{reason}\n\n"
        "Fix what is said above and move the file back into the inbox to try again.\n"
    ).encode()

"""A filed note's text and names: front matter, the slug of its title, its category folder.

Pure functions. Names built here are single path components made only of letters, digits
and hyphens, so nothing the model says can name a path outside ``captured/``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from cortexd.capture._filing import Filing

#: The category of a note whose model gave none that survives sanitizing.
DEFAULT_CATEGORY = "misc"
#: Longest slug of a title, and of a category (in characters; file names stay far below
#: the usual 255-byte limit even in scripts of 3 bytes a character).
SLUG_CHARS = 60
CATEGORY_CHARS = 40

_NOT_WORD = re.compile(r"[\W_]+")


def slugify(text: str, limit: int = SLUG_CHARS) -> str:
    """Lowercase letters and digits (any script) joined by single hyphens; may be empty.

    >>> slugify("Q3 Planning: ../../etc/passwd & Café!")
    'q3-planning-etc-passwd-café'
    >>> slugify("...")
    ''
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    slug = _NOT_WORD.sub("-", folded).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return slug.strip("-")


def category_slug(category: str) -> str:
    """The category's folder name: its slug, or ``misc`` when nothing usable is left.

    >>> category_slug("Work / Projects")
    'work-projects'
    >>> category_slug("..")
    'misc'
    """
    return slugify(category, CATEGORY_CHARS) or DEFAULT_CATEGORY


def note_name(filing: Filing, when: datetime, attempt: int = 1) -> str:
    """The note's file name, ``<date>-<slug>.md``; ``-2``, ``-3`` … for later attempts.

    >>> from datetime import datetime
    >>> f = Filing(title="Call Sam", category="work", summary="Call.")
    >>> note_name(f, datetime(2025, 3, 4), 2)
    '2025-03-04-call-sam-2.md'
    """
    slug = slugify(filing.title) or "note"
    suffix = "" if attempt == 1 else f"-{attempt}"
    return f"{when:%Y-%m-%d}-{slug}{suffix}.md"


def display_name(name: str) -> str:
    """A file name as it can be shown and stored: undecodable bytes and control characters
    replaced (a name may hold any byte but ``/`` and NUL)."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join("?" if unicodedata.category(c)[0] == "C" else c for c in text)


def _quoted(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar; quoting every value keeps YAML
    # from reading a title like "no" or "1.0" as a boolean or a number.
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class NoteFacts:
    """What the front matter records besides the filing."""

    captured: datetime
    source: str  # the dropped file's name, or where the text came from
    source_sha256: str
    model: str | None = None


def render_note(filing: Filing, text: str, facts: NoteFacts) -> str:
    """The note: YAML front matter (title, category, tags, summary, when, source, model),
    a blank line, then the original text unchanged."""
    tags = ", ".join(_quoted(t) for t in filing.tags)
    lines = [
        "---",
        f"title: {_quoted(filing.title)}",
        f"category: {_quoted(category_slug(filing.category))}",
        f"tags: [{tags}]",
        f"summary: {_quoted(filing.summary)}",
        f"captured: {facts.captured.isoformat(timespec='seconds')}",
        f"source: {_quoted(display_name(facts.source))}",
        f"source_sha256: {facts.source_sha256}",
    ]
    if facts.model:
        lines.append(f"model: {_quoted(facts.model)}")
    lines += ["---", "", ""]
    return "\n".join(lines) + text

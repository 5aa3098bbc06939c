"""The person's own words inside an agent's request.

Agents wrap what the person typed in text of their own: Claude Code's ``<system-reminder>``
blocks, Codex's ``<environment_context>`` and ``<user_instructions>`` messages, tool
results, a trailing system message. Routing reads only the person's latest words, so a
"say hi" is not filed by the text around it, and a tool-result continuation keeps the task
of the turn that started it (its latest words are the same).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

# A span an agent inserted: <tag …>…</tag>, the whole span.
_REMINDER = re.compile(r"<(system-reminder)\b[^>]*>.*?</\1>", re.S)
_WRAPPED = re.compile(r"\A\s*<([A-Za-z_][\w-]*)\b[^>]*>.*</\1>\s*\Z", re.S)


def person_text(text: str) -> str:
    """`text` without agent-inserted spans; '' when the whole text is one agent block.

    >>> person_text("<system-reminder>ctx</system-reminder>\\nsay hi")
    'say hi'
    >>> person_text("<environment_context>\\n  <cwd>/root</cwd>\\n</environment_context>")
    ''
    >>> person_text("make <b>this</b> bold")
    'make <b>this</b> bold'
    """
    text = _REMINDER.sub("", text).strip()
    return "" if _WRAPPED.match(text) else text


def person_turns(turns: Iterable[Iterable[str]]) -> list[str]:
    """The person's words of each turn, oldest first.

    `turns` are the user messages' text pieces, oldest first; a message whose pieces hold
    no words of the person's (tool results only, agent context) is not a turn of its own.

    >>> person_turns([["fix the bug"], ["<system-reminder>x</system-reminder>"], ["thanks"]])
    ['fix the bug', 'thanks']
    """
    said = ("\n".join(t for t in (person_text(p) for p in pieces) if t) for pieces in turns)
    return [words for words in said if words]


def latest_words(turns: Iterable[Iterable[str]]) -> tuple[str, int]:
    """The person's latest words and the number of that turn (1-based; 0 when none).

    >>> latest_words([["fix the bug"], ["<system-reminder>x</system-reminder>"], []])
    ('fix the bug', 1)
    """
    said = person_turns(turns)
    return (said[-1], len(said)) if said else ("", 0)


def reworded(text: str, old: str, new: str) -> str:
    r"""`text` with the person's words `old` made `new` (an override phrase removed). When
    the words span several blocks, the block holding the part that changed is edited.

    >>> reworded("<system-reminder>r</system-reminder>use opus: hi", "use opus: hi", "hi")
    '<system-reminder>r</system-reminder>hi'
    >>> reworded("use opus: fix the bug", "use opus: fix the bug\nand the tests",
    ...          "fix the bug\nand the tests")
    'fix the bug'
    """
    if not old:
        return text
    if old in text:
        return text.replace(old, new, 1)
    start = len(os.path.commonprefix([old, new]))
    end = len(os.path.commonprefix([old[start:][::-1], new[start:][::-1]]))
    removed, put = old[start : len(old) - end], new[start : len(new) - end]
    return text.replace(removed, put, 1) if removed and removed in text else text

"""How much of a prompt a directive takes: the words around the model's name that belong to
it ("use … for this:", "ask … to", "from now on stick with …"), so that they are cut out and
the rest of the prompt is left exactly as it was.

Which words belong to a directive is learned with the model (overrides/model.py): the words
of the directive phrases of the training set (`directive_words`), and those a directive
ends on when the request follows without a break (`lead_out`: "to", "que", "de"). A run
of such words reaches out from the name; it takes a break after it (a colon, a dash, a
full stop) when it meets one, and otherwise ends on its last lead-out word, so that "have
codex write the tests" keeps "write the tests". Cutting less is the safe side: the request
keeps a stray word rather than losing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cortexd.routing.overrides.features import BREAKS, Token, clause_bounds, is_verb

#: Marks that wrap a directive: "@opus", "[codex]", "(use haiku)", "**opus**".
_WRAPPERS = frozenset("@[(\"'`*“”„«»")
#: The most words a directive reaches out from the name on each side.
_REACH = 9
_LEAD = re.compile(r"[\s:,;.!\-—–>→]*")
_TRAIL = " \t\r,;:-—–([>→@"


@dataclass(frozen=True)
class Cut:
    """The directive's words (`phrase`) and the prompt without them (`text`)."""

    phrase: str
    text: str


@dataclass(frozen=True)
class Vocabulary:
    """The words directives are made of, and those they end on before the request."""

    directive_words: frozenset[str]
    lead_out: frozenset[str]


def cut(
    prompt: str,
    toks: list[Token],
    first: int,
    last: int,
    words: Vocabulary,
    *,
    alone: bool = False,
) -> Cut:
    """Cut the directive around the name at tokens first..last out of `prompt`. `alone`:
    the directive may be the whole prompt (a session switch or a re-answer says nothing
    else: "ab jetzt nur noch Codex"); a turn's directive comes with a request."""
    cs, ce = clause_bounds(toks, first, last)
    inside = _parenthesis(toks, first, last)
    if inside is not None:
        # "(mit Opus bitte)": the aside goes, and the sentence keeps its own marks.
        start, end = toks[inside[0]].start, toks[inside[1]].end
        head = prompt[:start].rstrip(" \t")
        return Cut(prompt[start:end], (head + prompt[end:]).strip())
    if _directive_clause(toks, cs, ce, first, last, words, alone):
        # The whole clause is the directive ("pásale esto a Haiku:", "Con Sonnet, porfa.").
        i, j = cs, ce if ce < len(toks) and toks[ce].text != "\n" else ce - 1
        if i >= 2 and toks[i - 1].text == ":" and toks[i - 2].text in words.directive_words:
            i -= 2  # a label: "model: gpt-4o"
    else:
        i, j = _around(toks, first, last, words)
    start, end = toks[i].start, toks[j].end
    head, tail = prompt[:start], prompt[end:]
    if not head.strip():
        rest = tail[_lead(tail) :]
        newline = tail.find("\n")
        if 0 <= newline < len(tail) - len(rest):
            rest = tail[newline + 1 :]  # the next line keeps its own indentation
        return Cut(prompt[start:end].strip(), rest)
    if re.fullmatch(r"[\s.!?)\]\"'*`”]*", tail):
        line_head, sep, line = head.rpartition("\n")
        stripped = line.rstrip(_TRAIL)
        text = (line_head + sep + stripped if stripped else line_head).rstrip()
        return Cut(prompt[start:].strip(), text)
    gap = re.match(r"[ \t,;:.!?\-—–>→]*(\n*)", tail)
    after = tail[gap.end() :] if gap else tail
    kept = head.rstrip(" \t")
    if not (kept.endswith(",") and tail.lstrip(" \t").startswith(",")):
        kept = kept.rstrip(" \t,;:-—–([>→@")  # one comma stays where the aside was
    glue = gap.group(1) if gap and gap.group(1) else "" if kept.endswith("\n") else " "
    return Cut(prompt[start:end].strip(), (kept + glue + after).strip())


def _directive_clause(
    toks: list[Token], cs: int, ce: int, first: int, last: int, words: Vocabulary, alone: bool
) -> bool:
    """Whether the clause cs..ce is nothing but the directive: a few words, almost all of
    them directive words (one or two others at an edge of the prompt: "switchea a Codex")."""

    def others(part: list[Token]) -> int:
        return sum(1 for t in part if t.text[0].isalnum() and t.text not in words.directive_words)

    before, after = others(toks[cs:first]), others(toks[last + 1 : ce])
    size = sum(1 for t in toks[cs:ce] if t.text[0].isalnum())
    at_edge = cs == 0 or ce >= len(toks) or all(t.text in BREAKS for t in toks[ce:])
    if not any(t.text[0].isalnum() for t in (*toks[:cs], *toks[ce:])):
        # The prompt is only this clause: "ab jetzt nur noch Codex", "redo that with opus".
        # A word or more of the person's own after the name is a new instruction ("redo
        # that with opus but in Python"): it stays.
        return alone and size <= 12 and before + after <= 4 and after <= 1
    # The request's own words follow the name ("have sonnet review this diff:"); a verb of
    # the person's own may come before it ("switchea a Codex:", "Mandale esto a Haiku nomás").
    return size <= 10 and after <= 1 and before + after <= (2 if at_edge else 1)


def _parenthesis(toks: list[Token], first: int, last: int) -> tuple[int, int] | None:
    """The brackets around the name, when they hold a short aside ("(mit Opus bitte)")."""
    i = first
    while i > 0 and first - i <= 5 and toks[i - 1].text not in "([":
        i -= 1
    j = last
    while j + 1 < len(toks) and j - last <= 5 and toks[j + 1].text not in ")]":
        j += 1
    if i > 0 and toks[i - 1].text in "([" and j + 1 < len(toks) and toks[j + 1].text in ")]":
        inner = [t for t in toks[i : j + 1] if t.text in BREAKS or t.text in "()[]"]
        head_only = all(not t.text[0].isalnum() for t in toks[: i - 1])
        if not inner and not head_only:
            return i - 1, j + 1
    return None


def _around(toks: list[Token], first: int, last: int, words: Vocabulary) -> tuple[int, int]:
    """The directive's words next to the name, in a clause that also holds the request."""
    i = first
    while i > 0 and first - i < _REACH and _crossable(toks[i - 1], words):
        i -= 1
    # The directive starts at the verb nearest the name: "what do you think of this, use
    # opus" keeps its question though every word of it can be a directive's.
    i = next((k for k in range(first - 1, i - 1, -1) if is_verb(toks[k].text)), i)
    j = last
    while j + 1 < len(toks) and j - last < _REACH and _crossable(toks[j + 1], words):
        j += 1
    if j + 1 < len(toks) and toks[j + 1].text not in BREAKS and toks[j + 1].text != ",":
        # The request follows without a break: end on the last lead-out word ("ask codex
        # to …"), or on the name, and keep the rest ("have codex write the tests").
        j = next((k for k in range(j, last, -1) if toks[k].text in words.lead_out), last)
        while j + 1 < len(toks) and _symbol(toks[j + 1]) and toks[j + 1].text not in _WRAPPERS:
            j += 1
    return i, j


def _symbol(token: Token) -> bool:
    """A mark that is neither a word nor a break: an emoji, "#", "//", a bracket."""
    return not token.text[0].isalnum() and token.text not in BREAKS and token.text != ","


def _crossable(token: Token, words: Vocabulary) -> bool:
    return token.text in words.directive_words or _symbol(token)


def _lead(tail: str) -> int:
    """Where the request starts after a directive: past the marks that set it off."""
    m = _LEAD.match(tail)
    return m.end() if m else 0

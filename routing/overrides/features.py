"""What the override model sees of a candidate: the words around it and the prompt's shape.

Features are strings (with value 1.0 unless said) so the model is a sum of weights
(overrides/model.py): the words on each side and their pairs, how far the name is from an
edge of the prompt and of its clause, the punctuation that follows it (a colon or a dash
after "use opus for this" sets a directive off), the clause's first word (an imperative),
a negation before it, a question mark after it, words that make a poem, music or a
manuscript of the prompt, and whether the name sits in code or quotes.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from cortexd.routing.overrides.spans import Candidate

# Words (hyphenated ones whole: "PR-Beschreibung", "gpt-4o"), an elision on its own
# ("d'", "l'", "qu'": "demande à Codex d'écrire"), newlines, single marks.
_TOKEN = re.compile(
    r"(?:[^\W\d_]{1,2}|qu)['’](?=[^\W_])|[^\W_]+(?:['’-][^\W_]+)*|\n|[^\w\s]", re.UNICODE
)
#: Punctuation that ends a clause: a directive is set off from the request by one of these.
BREAKS = frozenset(".!?:;\n—–-→>")
_NEGATIONS = frozenset(
    "don't dont doesn't doesnt not never no without instead rather avoid stop nicht kein keine "
    "nie ohne "
    "statt anstatt pas jamais sans plutôt nunca sin jamás ni".split()
)
#: Words that make a prompt about a poem, music or a manuscript: there "haiku", "sonnet"
#: and "opus" are what they were before they were models.
_TOPICS = {
    "poem": "poem poems poet poetry verse verses stanza stanzas syllable syllables rhyme rhymes "
    "rhyming lines shakespeare petrarch petrarchan gedicht gedichte vers verse reim strophe "
    "silben poème poèmes poésie rimes strophes syllabes poema poemas poesía rima rimas estrofa "
    "sílabas versos soneto sonett sonnets haikus kigo",
    "music": "symphony symphonies sonata sonatas quartet quartets concerto beethoven mozart "
    "brahms chopin bach composer piano orchestra movement codec bitrate kbps audio mp3 aac "
    "ogg webm opusenc ffmpeg sinfonie komponist klavier symphonie compositeur sinfonía "
    "compositor música musique musik",
    "manuscript": "manuscript manuscripts codex codices medieval vellum parchment folio "
    "leonardo seraphinianus gigas handschrift manuscrit manuscrito códice",
}
_TOPIC_OF = {w: topic for topic, words in _TOPICS.items() for w in words.split()}
#: Word classes near the name. Each generalises over its words, so that a verb or a time
#: phrase the training set had only once still counts as its kind.
_KINDS = {
    "verb": "use using usa usar uses try ask asking get have let give send pass route hand "
    "forward switch stick keep go move run put take pick choose prefer want need rerun retry "
    "redo nimm nehmt nehmen nutze benutze verwende frag frage fragen lass lasst gib schick "
    "schicke sende wechsle bleib bleibe mach mache probier utilise utilisez utiliser prends "
    "prenez demande demandez laisse laissez passe passez envoie envoyez confie reste bascule "
    "refais refaites fais faites essaie réessaie utiliza utilice emplea pregunta pregúntale "
    "preguntale pídele pidele pasa pásale pasale manda mándale envía envia deja haz hazlo "
    "repite quédate quedate cambia prueba",
    "polite": "please pls plz thanks thx bitte danke svp stp merci porfa gracias favor kindly",
    "session": "now on onwards forward rest session chat conversation thread here until "
    "whole remainder jetzt ab weiter rest sitzung chat unterhaltung gespräch désormais "
    "dorénavant maintenant reste conversation suite ahora adelante partir resto sesión sesion "
    "conversación conversacion charla",
    "redo": "again retry redo rerun regenerate another nochmal erneut wiederhole noch "
    "refais recommence encore réessaie otra vez repite rehaz reintenta",
    "reported": "said told asked wrote generated suggested recommended says tells used "
    "did was were had yesterday last earlier hat hatte sagte gesagt meinte gestern a dit "
    "disait hier avait m'a dijo dice me generó generó ayer había",
    "meta": "router routing prompt template test tests parse parser parsed override "
    "overrides config configuration setting settings env variable default log logs regex "
    "string example examples translate traduis traduce übersetze quote",
}


def _kinds_of_words() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for kind, words in _KINDS.items():
        for word in words.split():
            found.setdefault(word, set()).add(kind)
    return {word: frozenset(kinds) for word, kinds in found.items()}


_KIND_OF = _kinds_of_words()


def is_verb(word: str) -> bool:
    """Whether `word` (lower case) is one of the verbs that aim a prompt at a model."""
    return "verb" in _KIND_OF.get(word, ())


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokens(prompt: str, head: int | None = None, tail: int | None = None) -> list[Token]:
    """Words, newlines and single punctuation marks, lower-cased, with their offsets.

    With `head` and `tail`, only the first `head` and the last `tail` characters are read
    (a long paste in between costs nothing), and a newline stands for what was skipped.
    """
    if head is None or tail is None or len(prompt) <= head + tail + 200:
        spans = [(0, len(prompt))]
    else:
        spans = [(0, head + 100), (len(prompt) - tail - 100, len(prompt))]
    found: list[Token] = []
    for start, end in spans:
        if found:
            found.append(Token("\n", start, start))
        found.extend(
            Token(m.group(0).casefold(), m.start(), m.end())
            for m in _TOKEN.finditer(prompt, start, end)
        )
    return found


def _bucket(n: int) -> str:
    return str(n) if n < 4 else "4-6" if n < 7 else "7+"


def _is_word(token: Token) -> bool:
    return token.text[0].isalnum()


def _count_words(toks: list[Token], i: int, step: int) -> int:
    """How many words from token `i` on, going `step`; counting stops at 7 (a bucket's top)."""
    n = 0
    while 0 <= i < len(toks) and n < 7:
        n += toks[i].text[0].isalnum()
        i += step
    return n


def features_of(
    prompt: str, toks: list[Token], candidate: Candidate, topics: frozenset[str]
) -> dict[str, float]:
    """The features of one candidate; `toks` are `tokens(prompt)`, `topics` `topics_of(toks)`."""
    first, last = span_tokens(toks, candidate)
    left = [t.text for t in toks[max(0, first - 5) : first]]
    right = [t.text for t in toks[last + 1 : last + 6]]
    f: dict[str, float] = {"bias": 1.0}
    name = candidate.model or "?"
    f[f"name:{name}"] = 1.0
    if candidate.unknown:
        f["unknown"] = 1.0
    if candidate.vendor:
        f["vendor"] = 1.0
    if candidate.typo:
        f["typo"] = 1.0
    surface = candidate.surface
    f["cap" if surface[:1].isupper() else "lower"] = 1.0
    if surface.isupper() and len(surface) > 3:
        f["allcaps"] = 1.0
    for k, word in enumerate(reversed(left[-3:]), 1):
        f[f"l{k}:{word}"] = 1.0
    for k, word in enumerate(right[:3], 1):
        f[f"r{k}:{word}"] = 1.0
    for word in left:
        f[f"lb:{word}"] = 1.0
    for word in right:
        f[f"rb:{word}"] = 1.0
    if len(left) >= 2:
        f[f"l12:{left[-2]}_{left[-1]}"] = 1.0
    if len(right) >= 2:
        f[f"r12:{right[0]}_{right[1]}"] = 1.0
    from_start = _bucket(_count_words(toks, first - 1, -1))
    to_end = _bucket(_count_words(toks, last + 1, 1))
    f[f"from_start:{from_start}"] = 1.0
    f[f"to_end:{to_end}"] = 1.0
    # Together: alone in a short prompt, first of a long one, last after a paste.
    f[f"edges:{from_start}_{to_end}"] = 1.0
    start, end = clause_bounds(toks, first, last)
    clause_before = [t for t in toks[start:first] if _is_word(t)]
    clause_after = [t for t in toks[last + 1 : end] if _is_word(t)]
    f[f"cl_before:{_bucket(len(clause_before))}"] = 1.0
    f[f"cl_after:{_bucket(len(clause_after))}"] = 1.0
    if clause_before:
        f[f"cl_first:{clause_before[0].text}"] = 1.0
    f[f"edge:{'start' if start == 0 else 'end' if end >= len(toks) else 'middle'}"] = 1.0
    after, before = _mark(toks, last + 1), _mark(toks, first - 1)
    f[f"next:{after}"] = 1.0
    f[f"prev:{before}"] = 1.0
    # "bos ," is an address ("Opus, …"), "( )" an aside, "word :" a label or a speaker.
    f[f"marks:{before}_{after}"] = 1.0
    # The clause's words near the name, beyond the three each side: "Das ist eine Aufgabe
    # für Opus", "jusqu'à la fin de la discussion, Sonnet".
    for t in toks[max(start, first - 8) : first]:
        if _is_word(t):
            f[f"cwl:{t.text}"] = 1.0
    for t in toks[last + 1 : min(end, last + 9)]:
        if _is_word(t):
            f[f"cwr:{t.text}"] = 1.0
    stop = toks[end].text if end < len(toks) else "eos"
    f[f"clause_end:{stop}"] = 1.0
    if stop == "?" or (end >= len(toks) and prompt.rstrip().endswith("?")):
        f["question"] = 1.0
    if any(w in _NEGATIONS for w in left[-4:]):
        f["negated"] = 1.0
    for side, words in (("l", left[-3:]), ("r", right[:3])):
        for word in words:
            for kind in _KIND_OF.get(word, ()):
                f[f"{side}k:{kind}"] = 1.0
            if len(word) > 4:
                f[f"{side}p:{word[:4]}"] = 1.0
    for t in toks[start:end]:
        for kind in _KIND_OF.get(t.text, ()):
            f[f"ck:{kind}"] = 1.0
    if _quoted(prompt, candidate):
        f["quoted"] = 1.0
    for topic in topics:
        f[f"topic:{topic}"] = 1.0
        f[f"topic:{topic}:{name}"] = 1.0  # a poem makes "sonnet" a poem, not "codex"
    if _in_code(prompt, candidate):
        f["code"] = 1.0
    return f


def span_tokens(toks: list[Token], candidate: Candidate) -> tuple[int, int]:
    """The indices of the first and the last token of `candidate` (tokens are in order)."""
    first = bisect_right(toks, candidate.start, key=_end)
    last = bisect_left(toks, candidate.end, key=_start) - 1
    return first, last


def _end(token: Token) -> int:
    return token.end


def _start(token: Token) -> int:
    return token.start


def topics_of(toks: list[Token]) -> frozenset[str]:
    """The topics (poem, music, manuscript) the prompt's words mark."""
    return frozenset(_TOPIC_OF[t.text] for t in toks if t.text in _TOPIC_OF)


def clause_bounds(toks: list[Token], first: int, last: int) -> tuple[int, int]:
    """Token indices: the first of the clause holding tokens first..last, and the break
    that ends it (or len(toks))."""
    start = first
    while start > 0 and toks[start - 1].text not in BREAKS:
        start -= 1
    end = last + 1
    while end < len(toks) and toks[end].text not in BREAKS:
        end += 1
    return start, end


def _mark(toks: list[Token], i: int) -> str:
    if i < 0:
        return "bos"
    if i >= len(toks):
        return "eos"
    text = toks[i].text
    return "nl" if text == "\n" else text if not text[0].isalnum() else "word"


def _quoted(prompt: str, candidate: Candidate) -> bool:
    """Inside quotation marks on its line: someone's words, not the person's directive."""
    # The line's last 300 characters: a one-line paste of a megabyte costs no more.
    begin = max(prompt.rfind("\n", 0, candidate.start) + 1, candidate.start - 300)
    line = prompt[begin : candidate.start]
    return (
        line.count('"') % 2 == 1
        or sum(line.count(q) for q in "“«„") > sum(line.count(q) for q in "”»")
        or re.search(r"(?:^|\s)'[^']*$", line) is not None
    )


def _in_code(prompt: str, candidate: Candidate) -> bool:
    """In backticks, a fenced block, or an assignment/flag (``model="opus"``, ``--model opus``)."""
    if prompt.count("```", 0, candidate.start) % 2 == 1:
        return True
    head = prompt[max(0, candidate.start - 200) : candidate.start]
    if head.split("\n")[-1].count("`") % 2 == 1:
        return True
    return re.search(r"(?:[:=]\s*[\"']|=\s*|\s--?[\w-]+[ =][\"']?)$", head[-30:]) is not None

"""Override detection: "use Opus for this", "send this to Codex", "frag Haiku: …".

A directive counts only at the start or the end of the prompt and only in a directive's
shape (a verb aimed at a model, then a break); a mere mention of a model — "compare opus
and sonnet pricing", "the haiku I wrote", "don't bother with opus for this" — is not an
override. The directive is cut out and the rest of the prompt is left exactly as it was.

``haiku`` and ``sonnet`` are also ordinary words (poems), so "use sonnet to …" is taken as
an override only for names that are not ("use codex to write the parser").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cortexd.routing.catalog import Catalog

#: Names that are also common words; they need a clear break after them to count.
_AMBIGUOUS = frozenset({"haiku", "sonnet", "opus"})

_PLEASE = r"(?:(?:please|pls|plz|bitte|svp|stp|por\s+favor|hey|ok(?:ay)?|now|could\s+you)[,\s]+)?"
_POLITE = (
    r"(?:please|pls|plz|thanks|thank\s+you|thx|bitte|danke|merci|stp|svp|"
    r"s'il\s+te\s+pla[iî]t|por\s+favor|gracias)"
)
_THIS = (
    r"(?:this|it|that|these|this\s+(?:one|task|request|question|prompt)|"
    r"the\s+(?:request|task|question|prompt|job))"
)
_TAIL = (
    r"(?:\s+(?:for\s+(?:this|that|it|this\s+one|this\s+task|the\s+(?:task|request|answer))|"
    r"on\s+(?:this|this\s+one|that)|here|instead|now|"
    r"dafür|hierfür|hierzu|dafuer|für\s+(?:das(?:\s+hier)?|diese\s+aufgabe)|"
    r"pour\s+(?:ça|ca|ceci|cela|cette\s+tâche)|ici|"
    r"para\s+(?:esto|eso|esta\s+tarea)|aquí|aqui))*"
)
# Verb phrases that aim a prompt at a model, in English, German, French and Spanish.
_VERBS = (
    r"(?:use|try|ask|pick|choose|take|go\s+with|switch\s+to|call|"
    r"i'?d\s+(?:like|prefer)|i\s+want|prefer|"
    r"nimm|nehm(?:t|en\s+sie)|nutze|benutze|verwende|frag|frage|"
    r"utilise|utiliser|prends|emploie|demande\s+(?:à|a)|"
    r"usa|utiliza|emplea|pregúntale\s+a|preguntale\s+a|pregunta\s+a|"
    r"(?:send|route|pass|hand|give|forward|direct|delegate)(?:\s+" + _THIS + r")?"
    r"(?:\s+(?:off|over|along))?\s+to|"
    r"(?:run|do|answer)(?:\s+" + _THIS + r")?\s+(?:on|with|using|via|through|in)|"
    r"(?:schick|schicke|sende|gib)\s+(?:das|es|dies|dies\s+hier)\s+an|"
    r"(?:envoie|passe|transmets|confie)(?:\s+(?:ça|ca|ceci|cela|le|la))?\s+(?:à|a)|"
    r"(?:envía|envia|manda|pasa|pásale|pasale|mándale|mandale|mándalo|mandalo|mándaselo|mandaselo|pásaselo|pasaselo|envíaselo|enviaselo|pásalo|pasalo|"
    r"envíalo|envialo)(?:\s+(?:esto|eso|lo))?\s+a|"
    r"(?:with|using|via|mit|avec|con))"
    r"(?:\s+(?:dafür|hierfür|hierzu))?"
)
_LET = (
    r"(?:(?:let|have|lass|laisse|deja\s+que)\s+{M}\s+"
    r"(?:handle|do|take|answer|tackle|look\s+at|deal\s+with|"
    r"das\s+(?:machen|erledigen|beantworten|übernehmen)|machen|erledigen|"
    r"s'en\s+occuper|gérer|faire|lo\s+haga|se\s+encargue)"
    r"(?:\s+" + _THIS + r")?"
    r"|que\s+lo\s+haga\s+{M2})"
)
_NEGATION = re.compile(
    r"(?:\b(?:don'?t|do\s+not|never|not|no\s+need\s+to|without|instead\s+of|rather\s+than|"
    r"avoid|stop|nicht|kein|ne|pas|no|nunca|sin)\b\s+(?:\w+\s+){0,2})$",
    re.IGNORECASE,
)
# A bare name at the start followed by these reads as a definition ("Opus, in Latin, means"),
# not as a model being addressed ("Sonnet, what does this trace mean?").
_DEFINITION = re.compile(r"(?:a|an|the|in|is|means|refers|was|are|of|and|or)\b", re.IGNORECASE)
# A directive glued to the sentence before it only counts when that sentence does not make
# it a statement: "I mostly use sonnet?" is about the user, "center a div ask haiku" is not.
_STATEMENT = re.compile(
    r"\b(?:i|we|you|they|he|she|it|people|mostly|usually|always|often|sometimes|also|to|"
    r"should|would|could|can|will|did|do|does|not|never|and|or|than|when|if|ich|wir|je|nous|"
    r"yo|nosotros)\s*$",
    re.IGNORECASE,
)
# A directive that is only a preposition must be set off ("…, with opus"), not run on.
_PREPOSITION = re.compile(r"(?:with|using|via|mit|avec|con)\b", re.IGNORECASE)
#: Characters at the end of a prompt where a closing directive is looked for.
_WINDOW = 400
_SEPARATORS = " \t\r,:-—–([>"
_START_END = r"(?:\s*[:,;.!?\-—–>]+(?:\s+|\Z)|\s*\n\s*|\s*\Z)"


@dataclass(frozen=True)
class Override:
    """A directive found in a prompt: the model it names and the prompt without it."""

    model: str
    phrase: str
    text: str


class OverrideDetector:
    """Finds override directives for the models of one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        spellings = sorted({s for s in catalog.spellings() if len(s) > 1}, key=len, reverse=True)
        names = "|".join(re.escape(s).replace(r"\ ", r"[\s-]?") for s in spellings)
        quote = r"[`*\"'“”„]{0,2}"
        counter = iter(range(1000))

        def model() -> str:
            group = f"m{next(counter)}"
            found = rf"(?:claude[\s-])?(?:{names})(?:[\s-]?\d(?:\.\d)?)?"
            return rf"(?<![\w-]){quote}(?P<{group}>{found}){quote}(?![\w-])"

        def directive() -> str:
            return (
                rf"(?:{_VERBS}\s+(?:the\s+)?{model()}(?:\s+model)?{_TAIL}"
                rf"|{_LET.format(M=model(), M2=model())})"
            )

        def label() -> str:
            return (
                rf"(?:@{model()}|\[{model()}\]|\({model()}(?:\s+{_POLITE})?\)"
                rf"|model\s*[:=]\s*{model()})"
            )

        flags = re.IGNORECASE
        # Every directive at the end names a model: most prompts name none, and this plain
        # search rules them out at a fraction of the cost of the full pattern below. No
        # boundaries here, so it finds a superset of what the full pattern can match.
        self._any_model = re.compile(rf"(?:{names})", flags)
        self._start = re.compile(
            rf"\A\s*{_PLEASE}(?:[(\[]{directive()}[)\]]\s*|{label()}(?:{_START_END}|\s+)"
            rf"|{directive()}{_START_END})",
            flags,
        )
        self._start_bare = re.compile(
            rf"\A\s*{model()}(?:[,\s]+{_POLITE})?{_TAIL}\s*[:,.!\-—–>]+(?:\s+|\Z)", flags
        )
        self._start_to = re.compile(
            rf"\A\s*{_PLEASE}(?:use|have|let|ask|get)\s+{model()}\s+to\s+", flags
        )
        self._end = re.compile(
            rf"(?:^|[,;:.!?\-—–(\[>\s])[ \t]*(?P<d>[(\[]?{_PLEASE}(?:{directive()}|{label()}|"
            rf"(?<=[>\-—–]\s){model()}|(?<=[>\-—–]){model()}|{model()}(?=,?\s+{_POLITE})"
            rf"|(?<=[.!?,;:—–\-]\s){model()}\s+for\s+(?:this|that|it)(?:\s+one)?)"
            rf"(?:[\s,]+{_POLITE})?[)\]]?)[\s.!?]*\Z",
            flags,
        )

    def detect(self, prompt: str) -> Override | None:
        """The override in `prompt`, or None when it only mentions models (or none)."""
        return self._at_start(prompt) or self._at_end(prompt)

    def _spec_name(self, matched: str) -> str | None:
        text = re.sub(r"^claude[\s-]", "", matched.strip(), flags=re.IGNORECASE)
        for candidate in (matched, text, re.sub(r"[\s-]?\d+(?:\.\d+)?$", "", text)):
            spec = self._catalog.find(candidate.replace("-", " ")) or self._catalog.find(candidate)
            if spec is not None:
                return spec.name
        return None

    def _at_start(self, prompt: str) -> Override | None:
        for pattern in (self._start, self._start_bare, self._start_to):
            m = pattern.match(prompt)
            if not m:
                continue
            name = self._spec_name(_matched_model(m))
            end = m.end()
            newline = prompt.rfind("\n", m.start(), end)
            if newline >= 0:
                end = newline + 1  # the next line keeps its own indentation
            rest = prompt[end:]
            if name is None or not rest.strip():
                continue  # unknown, or nothing but a directive: nothing to answer
            if pattern is self._start_to and name in _AMBIGUOUS:
                continue  # "use sonnet to write a poem" is about poems
            if pattern is self._start_bare and _DEFINITION.match(rest):
                continue
            return Override(name, prompt[:end].strip(), rest)
        return None

    def _at_end(self, prompt: str) -> Override | None:
        # A directive is short: search only the tail, or a long paste costs seconds.
        offset = max(0, len(prompt) - _WINDOW)
        if not self._any_model.search(prompt, offset):
            return None
        m = self._end.search(prompt, offset)
        if not m:
            return None
        before, phrase = prompt[: m.start("d")], m.group("d")
        tag = re.match(r"[\[(@]|model\s*[:=]", phrase, re.IGNORECASE)  # a tag, not a sentence
        if not before.strip() or (
            not tag and (_NEGATION.search(before) or _STATEMENT.search(before))
        ):
            return None
        glued = not tag and re.search(r"\w\s+$", before) is not None
        if glued and (_PREPOSITION.match(phrase) or prompt.rstrip().endswith("?")):
            return None  # "voice chat with opus", "why did it send this to codex?": a mention
        name = self._spec_name(_matched_model(m))
        if name is None:
            return None
        # Keep a sentence's own full stop; drop only the connector that joined the directive
        # on its own line ("…, use sonnet", "… — use opus"). Earlier lines are left as they are.
        head, newline, line = before.rpartition("\n")
        stripped = line.rstrip(_SEPARATORS)
        text = (head + newline + stripped if stripped else head).rstrip()
        return Override(name, phrase.strip(), text)


def _matched_model(m: re.Match[str]) -> str:
    return next(v for k, v in m.groupdict().items() if k.startswith("m") and v)

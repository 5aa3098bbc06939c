"""Override detection: "use Opus for this", "ask codex to …", "from now on stick with sonnet".

Every place the prompt names a model (overrides/spans.py) is a candidate; a small learned
model (overrides/model.py) reads the words around it (overrides/features.py) and says whether
the person is aiming the prompt at that model or only mentioning it — "compare opus and
sonnet pricing", "write a haiku", "Beethoven's opus 131", "don't use codex for this" — and
whether for this turn, the rest of the session, or a re-answer of the last request. The
directive's words are cut out (overrides/extent.py) and the rest is left as it was.

The threshold is set for precision: a mention taken for a directive misroutes silently,
while a missed directive can be said again.
"""

from __future__ import annotations

from dataclasses import dataclass

from cortexd.routing.catalog import Catalog
from cortexd.routing.overrides.extent import cut
from cortexd.routing.overrides.features import features_of, span_tokens, tokens, topics_of
from cortexd.routing.overrides.model import OverrideModel
from cortexd.routing.overrides.revocations import RevocationModel, first_sentence
from cortexd.routing.overrides.spans import HEAD, TAIL, Candidate, CandidateFinder
from cortexd.routing.text_memo import TextMemo


@dataclass(frozen=True)
class Override:
    """A directive found in a prompt: the model it names, its words, the prompt without
    them, and how long it holds (``turn``, ``session`` or ``redo``)."""

    model: str
    phrase: str
    text: str
    scope: str = "turn"
    confidence: float = 1.0


@dataclass(frozen=True)
class UnknownModel:
    """A directive to a model the catalog does not have ("use gemini for this"): it is not
    followed, and not silently dropped either; the prompt keeps it."""

    name: str
    phrase: str
    suggestion: str | None
    scope: str = "turn"


class OverrideDetector:
    """Finds override directives for the models of one catalog."""

    def __init__(
        self,
        catalog: Catalog,
        model: OverrideModel | None = None,
        revocations: RevocationModel | None = None,
    ) -> None:
        """`model` and `revocations` default to the shipped ones."""
        self._catalog = catalog
        self._finder = CandidateFinder(catalog)
        self._model = model or OverrideModel.shipped()
        self._revocations = revocations or RevocationModel.shipped()
        # A conversation comes back with every request: its turns are read once.
        self._read = TextMemo(self._read_afresh)
        self._revokes = TextMemo(self._revokes_afresh)

    def revokes(self, text: str) -> bool:
        """Whether the turn `text` revokes a session directive ("back to normal routing")."""
        return self._revokes(text)

    def _revokes_afresh(self, text: str) -> bool:
        return self._revocations.revokes(text, self._finder)

    def models_named(self, text: str) -> frozenset[str]:
        """The models the first sentence of `text` names (a revocation is read in it)."""
        found = self._finder.find(first_sentence(text))
        return frozenset(c.model or c.unknown or c.surface for c in found)

    def detect(self, prompt: str) -> Override | None:
        """The override in `prompt` to a model of the catalog, or None (a mention, or none)."""
        found = self.read(prompt)
        return found if isinstance(found, Override) else None

    def read(self, prompt: str) -> Override | UnknownModel | None:
        """The directive in `prompt`, to a model of the catalog or to one it lacks."""
        return self._read(prompt)

    def _read_afresh(self, prompt: str) -> Override | UnknownModel | None:
        candidates = self._finder.find(prompt)
        if not candidates:
            return None
        toks = tokens(prompt, HEAD, TAIL)
        topics = topics_of(toks)
        best: tuple[float, Candidate, str] | None = None
        for candidate in candidates:
            reading = self._model.read(features_of(prompt, toks, candidate, topics))
            if reading.directive >= self._model.threshold and (
                best is None or reading.directive > best[0]
            ):
                best = (reading.directive, candidate, reading.scope)
        if best is None:
            return None
        confidence, candidate, scope = best
        first, last = span_tokens(toks, candidate)
        alone = scope != "turn"
        directive = cut(prompt, toks, first, last, self._model.vocabulary, alone=alone)
        if candidate.model is None:
            name = candidate.unknown or candidate.surface
            return UnknownModel(name, directive.phrase, self._catalog.suggest(name), scope)
        # A prompt that is nothing but the directive ("from now on use codex") is answered
        # as written: there is nothing else to send.
        text = directive.text if directive.text.strip() else prompt
        return Override(candidate.model, directive.phrase, text, scope, confidence)

"""Candidate spans for override detection: every place a prompt names a model.

A candidate is a model's name as the person wrote it — an alias, a model id, a vendor
("Anthropic", "OpenAI") or a model the catalog does not have ("Gemini") — with the model
it stands for. Whether a candidate is a directive is the learned model's call
(overrides/model.py); this module only finds them, and only near the prompt's edges, where
directives are: a long paste costs no more than a short prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from cortexd.routing.catalog import Catalog, place_model_id

#: Models people name that no routing file of ours serves; a directive to one is reported
#: with a "did you mean", never silently dropped.
UNKNOWN_MODELS = (
    "gemini",
    "bard",
    "mistral",
    "mixtral",
    "deepseek",
    "grok",
    "perplexity",
    "copilot",
    "phi-3",
    "command-r",
    "cohere",
    "qwen3",
    "gemma",
)
#: A vendor's name stands for the model its plain product name already means ("Claude",
#: "GPT"): "let Anthropic handle this" is "let Claude handle this".
VENDORS = {"anthropic": "claude", "openai": "gpt", "open ai": "gpt"}
#: A hyphen and the word "model" may follow a name ("Haiku-Modell", "Opus-model").
_MODEL_WORD = r"-(?:model[a-zè]*|modèle)(?![\w-])"
#: The most candidates read at each edge of a prompt.
MOST = 8
#: Characters read beyond a window's edges: more than the longest name and its version.
_MARGIN = 64
#: Characters at each edge of a prompt where directives are looked for.
HEAD = 320
TAIL = 400


@dataclass(frozen=True)
class Candidate:
    """A model's name in a prompt: `start`/`end` in characters, the `model` it stands for
    (a catalog name) or, for a model the catalog lacks, `unknown` (its name, lower case)."""

    start: int
    end: int
    surface: str
    model: str | None
    unknown: str | None = None
    vendor: bool = False
    #: Misspelt ("chatgtp", "sonet"): the name is a guess.
    typo: bool = False


class CandidateFinder:
    """Finds the candidates of one catalog's models in a prompt."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        known = {s for s in catalog.spellings() if len(s) > 1}
        self._nicknames = nicknames(catalog)
        # Slips are read for the models people route to; each adds a stem to test, and a
        # slip in a model the file lacks would only be reported.
        ours = known | set(VENDORS) | set(self._nicknames)
        self._typos = {typo: name for name in ours for typo in typos(name)}
        # A slip that is also a word ("lama") names the model only with its version after
        # it ("lama 3.1"): the word alone is the word.
        self._word_slips = {s: name for name in ours for s in _slips(name) & _WORDS}
        slips = set(self._typos) | set(self._word_slips)
        spellings = sorted(ours | set(UNKNOWN_MODELS) | slips, key=len, reverse=True)
        names = "|".join(re.escape(s).replace(r"\ ", r"[\s-]?") for s in spellings)
        # A version is a number or two ("Opus 4.5", "gpt 5"): "GPT-4410" is a part number.
        found = rf"(?:claude[\s-])?(?:{names})(?:[\s-]?\d{{1,2}}(?:\.\d+|o)?(?![\w.]))?"
        # "Haiku-Modell" aside, a name runs on into no word ("opus-dei") and is not the
        # first part of a file's, a site's or a handle's name ("opus.wav", "@haiku.physio").
        self._pattern = re.compile(
            rf"(?<![\w-])(?:{found})(?={_MODEL_WORD}|(?![\w-]|\.\w))", re.IGNORECASE
        )
        # A cheap test that rules out the many texts naming no model: every spelling starts
        # with one of these stems, and a substring test costs a small part of a regex's.
        self._stems = _stems(spellings)
        self._vendor_model = {v: self._name(alias) for v, alias in VENDORS.items()}

    def find(self, prompt: str) -> list[Candidate]:
        """The candidates in the first `HEAD` and the last `TAIL` characters of `prompt`."""
        windows = [(0, min(len(prompt), HEAD))]
        if len(prompt) > HEAD:
            windows.append((max(HEAD, len(prompt) - TAIL), len(prompt)))
        found: list[Candidate] = []
        for start, end in windows:
            # A name running on past the window ("opusfoo") must fail its boundary there as
            # it would anywhere, so the text read goes past it. "códex", "haikú": accents are
            # folded one character for one, so spans stay in place (a window with none, as
            # most are, is read as it is).
            window = prompt[start:end]
            text, lo = prompt, 0
            if not window.isascii():
                lo = max(0, start - _MARGIN)
                text = prompt[lo : min(len(prompt), end + _MARGIN)].translate(_FOLD)
                window = text[start - lo : end - lo]
            low = window.casefold()
            if not any(stem in low for stem in self._stems):
                continue
            for m in self._pattern.finditer(text, start - lo):
                if m.start() + lo >= end:
                    break
                candidate = self._candidate(m, lo, prompt)
                if candidate is not None:
                    found.append(candidate)
        found = _without_vendors_of(prompt, found)
        # A directive is one of the names nearest an edge: a paste naming models eighty
        # times is read at its first and last few.
        return found if len(found) <= 2 * MOST else found[:MOST] + found[-MOST:]

    def _candidate(self, m: re.Match[str], lo: int, prompt: str) -> Candidate | None:
        """The candidate `m` matched in the folded segment of `prompt` that starts at `lo`."""
        at = (m.start() + lo, m.end() + lo)
        surface = prompt[at[0] : at[1]]
        key = _loose(m.group(0))
        # A slip is looked up without "Claude" before it and a version after it ("Claude
        # Sonet", "Qwenn 2.5", "lama 3.1"), which the model's own name then takes back.
        bare = re.sub(r"^claude ", "", key)
        version = re.search(r" ?\d+(?:\.\d+|o)?$", bare)
        stem = bare[: version.start()] if version else bare
        if bare in self._typos:  # the slip takes its digits in ("gtp4o")
            stem, version = bare, None
        typo = self._typos.get(stem) or (self._word_slips.get(stem) if version else None)
        if typo is not None and typo != stem:
            spelled = typo + (" " + version.group(0).strip() if version else "")
            found = self._candidate_of(at, surface, _loose(spelled), spelled)
            if found is None and version:  # a version the catalog lacks: the model alone
                found = self._candidate_of(at, surface, _loose(typo), typo)
            return None if found is None else replace(found, typo=True)
        if stem in self._word_slips:
            return None  # the word, with no version to make it a name
        return self._candidate_of(at, surface, key, m.group(0))

    def _candidate_of(
        self, at: tuple[int, int], surface: str, key: str, spelled: str
    ) -> Candidate | None:
        """The candidate at `at` (start, end): `key` is its loose form, `spelled` its
        spelling."""
        start, end = at
        if key in self._vendor_model:
            model = self._vendor_model[key]
            return Candidate(start, end, surface, model, None, vendor=True)
        model = self._nicknames.get(key) or self._name(spelled)
        if model is not None:
            return Candidate(start, end, surface, model)
        base = re.sub(r" ?\d+(?:\.\d+)?$", "", key)
        unknown = next((u for u in UNKNOWN_MODELS if _loose(u) in (key, base)), None)
        if unknown is not None:
            return Candidate(start, end, surface, None, unknown)
        return None

    def _name(self, matched: str) -> str | None:
        """The catalog's name for a spelling as written ("Claude Opus 4.5" → opus)."""
        text = re.sub(r"^claude[\s-]", "", matched.strip(), flags=re.IGNORECASE)
        for candidate in (matched, text):
            spec = self._catalog.find(candidate.replace("-", " ")) or self._catalog.find(candidate)
            if spec is not None:
                return spec.name
        # "GPT-5" is a model of its own, not GPT-4o in other words: a GPT with a version is
        # that OpenAI model id, which the router places. A Claude model's version names the
        # family's model the catalog has ("Opus 4.5" → opus): its ids are spelt otherwise.
        model_id = re.sub(r"^chatgpt", "gpt", re.sub(r"[\s-]+", "-", matched.strip().casefold()))
        if re.fullmatch(r"gpt-\d[\w.-]*", model_id) and place_model_id(model_id) is not None:
            return model_id
        spec = self._catalog.find(re.sub(r"[\s-]?\d+(?:\.\d+)?$", "", text))
        return spec.name if spec is not None else None


#: What joins a vendor to its model: "Anthropic's Opus", "OpenAI Codex", "le Codex
#: d'OpenAI", "el Sonnet de Anthropic", "Opus von Anthropic".
_VENDOR_JOIN = re.compile(
    r"\s*(?:['’]s\s+|\s+(?:d['’]\s*|de\s+|von\s+|of\s+|by\s+)|[\s-])", re.IGNORECASE
)


def _without_vendors_of(prompt: str, found: list[Candidate]) -> list[Candidate]:
    """The candidates without a vendor's name joined to a model's: the model is the one
    meant ("let Anthropic's Haiku do it" asks for haiku, not for Anthropic's everyday model).

    >>> from cortexd.routing.catalog import build_catalog
    >>> [c.model for c in CandidateFinder(build_catalog()).find("le Codex d'OpenAI, stp")]
    ['codex']
    """
    models = [c for c in found if not c.vendor]
    if len(models) == len(found) or not models:
        return found

    def joined(v: Candidate) -> bool:
        for m in models:
            gap = prompt[v.end : m.start] if v.end <= m.start else prompt[m.end : v.start]
            if len(gap) <= 6 and _VENDOR_JOIN.fullmatch(gap):
                return True
        return False

    return [c for c in found if not (c.vendor and joined(c))]


def typos(name: str) -> set[str]:
    """The slips a hurried hand makes in a name: two neighbouring letters after the first
    swapped ("chatgtp", "cluade", "haiuk"), a letter typed twice ("opuss", "lamma") or not at
    all ("sonet", "codx"). Names under four letters have none, a name with digits only in
    its letters ("gtp-4o"), and a slip that is a common word ("oups", "code") is none.

    >>> sorted(typos("opus"))
    ['oopus', 'oppus', 'opsu', 'opuss', 'opuus']
    >>> sorted(typos("gpt-4o"))
    ['gtp-4o']
    """
    return _slips(name) - _WORDS


def _slips(name: str) -> set[str]:
    """Every slip `typos` reads, words among them."""
    head = re.match(r"[a-z]+", name)
    if head is None or len(name) < 4:
        return set()
    letters, rest = head.group(0), name[head.end() :]
    if rest:  # "gpt-4o": only its letters slip, and only by a swap
        swaps = _swaps(letters) if len(letters) >= 3 else set()
        return {s + rest for s in swaps} - {name}
    found = _swaps(letters)
    found |= {letters[: i + 1] + letters[i:] for i in range(len(letters))}  # doubled
    dropped = range(1, len(letters) - 1) if len(letters) >= 5 else ()
    found |= {letters[:i] + letters[i + 1 :] for i in dropped}  # one inside letter left out
    found |= {
        letters[:i] + letters[i + 1 :]
        for i in range(1, len(letters))
        if letters[i] == letters[i - 1]
    }
    return found - {name}


def _swaps(letters: str) -> set[str]:
    return {
        letters[:i] + letters[i + 1] + letters[i] + letters[i + 2 :]
        for i in range(1, len(letters) - 1)
    }


#: Slips that are words people write: "oups" is French for "oops", "lama" the French for
#: the animal and a Dalai Lama's title, "code" and "clade" words of their own.
_WORDS = frozenset({"oups", "lama", "code", "clade"})


#: Accents a hurried hand puts on a name ("códex", "haikú") as the plain letters, one
#: character for one. Not the diaeresis: French writes the poem "haïku", and ä, ö, ü are
#: letters of their own in German.
_FOLD = str.maketrans("áàâãéèêíìîóòôõúùûÁÀÂÃÉÈÊÍÌÎÓÒÔÕÚÙÛ", "aaaaeeeiiioooouuuAAAAEEEIIIOOOOUUU")


def _loose(name: str) -> str:
    """A name as `_candidate` compares it: "command-r" and "Command R" are one."""
    return re.sub(r"[\s-]+", " ", name.casefold())


def nicknames(catalog: Catalog) -> dict[str, str]:
    """What people call the local models: "llama", "llama 3.1", "qwen coder" for the ids
    llama3.1:8b and qwen2.5-coder:14b. A family name shared by a model and its coder
    variant means the plain one.

    >>> from cortexd.routing.catalog import build_catalog
    >>> names = nicknames(build_catalog())
    >>> names["llama"], names["llama 3.1"], names["qwen coder"], names["qwen"]
    ('llama3.1:8b', 'llama3.1:8b', 'qwen2.5-coder:14b', 'qwen2.5:14b')
    """
    found: dict[str, str] = {}
    for spec in sorted(catalog, key=lambda s: ("-" in s.model_id, s.name)):
        m = re.match(r"([a-z]+)(\d+(?:\.\d+)?)?(?:-([a-z]+))?:", spec.model_id.casefold())
        if not spec.local or m is None or spec.api.value == "embeddings":
            continue
        family, version, variant = m.groups()
        names = [family, *((f"{family}{version}", f"{family} {version}") if version else ())]
        if variant:
            names = [f"{n} {variant}" for n in names] + [f"{n}-{variant}" for n in names[1:]]
        for name in names:
            found.setdefault(name, spec.name)
    return found


def _stems(spellings: list[str]) -> tuple[str, ...]:
    """The leading letters-and-digits of each spelling, without one that holds another.

    >>> _stems(["gpt-4o", "gpt4o", "claude sonnet", "sonnet", "4o"])
    ('4o', 'claude', 'gpt', 'sonnet')
    """
    heads = {m.group(0) for s in spellings if (m := re.match(r"[^\W_]+", s.casefold()))}
    return tuple(sorted(h for h in heads if not any(o != h and o in h for o in heads)))

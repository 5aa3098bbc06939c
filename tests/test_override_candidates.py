"""Where a prompt names a model: slips of the hand, compounds, and the models the file lacks."""

from __future__ import annotations

import pytest

from cortexd.routing.catalog import build_catalog
from cortexd.routing.overrides.spans import CandidateFinder, typos


@pytest.fixture(scope="module")
def finder() -> CandidateFinder:
    return CandidateFinder(build_catalog())


@pytest.mark.parametrize(
    ("prompt", "surface", "model", "typo"),
    [
        ("chatgtp for this one pls: rewrite my About page", "chatgtp", "gpt-4o", True),
        ("cluade, help me with this", "cluade", "sonnet", True),
        ("sonet pls: two lines on autumn", "sonet", "sonnet", True),
        ("ask anthorpic's model", "anthorpic", "sonnet", True),
        ("(Haiku-Modell genügt)", "Haiku", "haiku", False),
        ("un modèle: le Claude-modèle suffit", "Claude", "sonnet", False),
        ("sonnet pls", "sonnet", "sonnet", False),
    ],
)
def test_a_slip_or_a_compound_still_names_the_model(
    finder: CandidateFinder, prompt: str, surface: str, model: str, typo: bool
) -> None:
    found = finder.find(prompt)
    assert [(c.surface, c.model, c.typo) for c in found] == [(surface, model, typo)]


@pytest.mark.parametrize(
    ("prompt", "unknown"),
    [
        ("Con command-r, por favor: resume este acta", "command-r"),
        ("Repítelo con phi-3.", "phi-3"),
        ("qwen3 pls", "qwen3"),
        ("use Gemini 1.5 for this", "gemini"),
    ],
)
def test_models_the_file_lacks_are_found_however_they_are_spelt(
    finder: CandidateFinder, prompt: str, unknown: str
) -> None:
    (found,) = finder.find(prompt)
    assert (found.model, found.unknown) == (None, unknown)


@pytest.mark.parametrize(
    "prompt",
    [
        "the mitral valve is leaking",  # "mistral" is not read with slips: it is only reported
        "a talk by the Dalai Lama",  # names under six letters have no slips
        "the opus-dei building",
        "Opusculum",
        "sonnets by Petrarch",
    ],
)
def test_words_near_a_name_are_not_candidates(finder: CandidateFinder, prompt: str) -> None:
    assert finder.find(prompt) == []


def test_slips_are_swaps_and_single_letters_of_a_double() -> None:
    assert typos("chatgpt") >= {"chatgtp", "chatpgt", "cahtgpt"}
    assert "hcatgpt" not in typos("chatgpt")  # the first letter is rarely the slip
    assert typos("sonnet") >= {"sonet", "sonent"}
    assert {"hiaku", "haiuk", "hiku", "haikuu"} <= typos("haiku")
    assert typos("opus") == {"opsu", "oopus", "oppus", "opuus", "opuss"}
    # Too short to tell from other words, a word in its own right; a name with digits slips
    # only by a swap in its letters.
    assert typos("gpt") == set() and typos("gpt-4o") == {"gtp-4o"}
    assert "lama" not in typos("llama") and "code" not in typos("codex")
    assert {"llmaa", "lamma"} & typos("llama") == {"llmaa"} and "llamma" in typos("llama")


@pytest.mark.parametrize(
    ("prompt", "model"),
    [
        ("le Codex d'OpenAI, stp : un script bash", "codex"),
        ("get Anthropic's Haiku to sum this", "haiku"),
        ("el Sonnet de Anthropic, por favor", "sonnet"),
        ("let Anthropic handle this", "sonnet"),  # a vendor alone is its everyday model
    ],
)
def test_a_vendor_joined_to_a_model_names_that_model(prompt: str, model: str) -> None:
    found = CandidateFinder(build_catalog()).find(prompt)
    assert [c.model for c in found] == [model]


def test_a_slip_in_a_short_name_is_a_candidate_flagged_as_a_guess() -> None:
    finder = CandidateFinder(build_catalog())
    (found,) = finder.find("haiuk: summarise this")
    assert (found.model, found.typo) == ("haiku", True)


@pytest.mark.parametrize(
    ("prompt", "model"),
    [
        ("use gpt-5 for this", "gpt-5"),
        ("GPT 4.1: tidy this table", "gpt-4.1"),
        ("ChatGPT 5, what is a monad", "gpt-5"),
        ("use Claude Opus 4.5 for this", "opus"),  # a Claude version names the family
        ("use gpt 4o", "gpt-4o"),
    ],
)
def test_a_gpt_with_a_version_is_that_model_not_gpt_4o(prompt: str, model: str) -> None:
    (found,) = CandidateFinder(build_catalog()).find(prompt)
    assert found.model == model


@pytest.mark.parametrize(
    ("prompt", "surface", "model"),
    [
        # A slip with "Claude" before it or a version after it: the name takes them back.
        ("Claude Sonet, two lines on the tide please", "Claude Sonet", "sonnet"),
        ("Qwenn 2.5: list five stretches for a desk worker", "Qwenn 2.5", "qwen2.5:14b"),
        # A slip that is a word names the model only with its version.
        ("lama 3.1 : résume ce mail en deux lignes", "lama 3.1", "llama3.1:8b"),
        # "4o" is a version too.
        ("chatgpt-4o please: a name for a bakery", "chatgpt-4o", "gpt-4o"),
        # An accent slipped onto a name, spelt as written.
        ("con el códex, por favor: una función que sume", "códex", "codex"),
    ],
)
def test_a_slip_around_a_version_or_an_accent_names_the_model(
    finder: CandidateFinder, prompt: str, surface: str, model: str
) -> None:
    found = finder.find(prompt)
    assert [(c.surface, c.model, c.typo) for c in found][:1] == [
        (surface, model, surface.casefold() not in ("códex", "chatgpt-4o"))
    ]


@pytest.mark.parametrize(
    "prompt",
    [
        "the lama in the next field keeps staring at me",  # the word, no version
        "a quote from the Dalai Lama for the card",
        "haïku : est-ce que ça fait bien 5-7-5 ?",  # French spells the poem with a diaeresis
    ],
)
def test_a_slip_that_is_a_word_or_a_poem_is_no_candidate(
    finder: CandidateFinder, prompt: str
) -> None:
    assert finder.find(prompt) == []

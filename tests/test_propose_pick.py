"""`cortex propose --apply N`: N is the number listed; an id needs at least 4 characters."""

from __future__ import annotations

import pytest

from cortexd.cli.propose_cmd import _pick
from cortexd.client_admin import Proposals
from cortexd.errors import CortexError

LISTED = Proposals.from_json(
    {
        "proposals": [
            {"number": 1, "id": "a3f09c21", "summary": "one"},
            {"number": 2, "id": "1f00bb7e", "summary": "two"},
        ]
    }
)


def test_a_number_is_the_listed_one_even_when_an_id_starts_with_it() -> None:
    assert _pick(LISTED, "1").summary == "one"
    assert _pick(LISTED, "2").summary == "two"


def test_an_id_prefix_of_four_or_more_characters_picks_by_id() -> None:
    assert _pick(LISTED, "1f00").summary == "two"
    assert _pick(LISTED, "A3F0").summary == "one"
    with pytest.raises(CortexError, match="no proposal '1f0'"):
        _pick(LISTED, "1f0")


def test_an_unknown_one_names_how_many_there_are() -> None:
    with pytest.raises(CortexError, match="there are 2"):
        _pick(LISTED, "7")
    with pytest.raises(CortexError, match="there are none"):
        _pick(Proposals.from_json({"proposals": []}), "1")

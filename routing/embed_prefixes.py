"""Task prefixes for embedding models trained with them (nomic-embed-text): the same text
embeds differently as a query and as a document, and without its prefix it embeds worse.

The request says what its texts are (``input_type``); texts that already carry a prefix
are left as they are, so a client that knows the convention is never double-prefixed.
"""

from __future__ import annotations

from enum import StrEnum


class InputType(StrEnum):
    """What texts are embedded for, as a request says it."""

    QUERY = "query"
    DOCUMENT = "document"
    CLUSTERING = "clustering"
    CLASSIFICATION = "classification"


#: nomic-embed-text's prefixes (its model card).
NOMIC = {
    InputType.QUERY: "search_query: ",
    InputType.DOCUMENT: "search_document: ",
    InputType.CLUSTERING: "clustering: ",
    InputType.CLASSIFICATION: "classification: ",
}
#: Texts are indexed far more often than searched for: without a word from the request, a
#: text is a document.
DEFAULT = InputType.DOCUMENT


def wants_prefixes(*names: str) -> bool:
    """Whether a model (by alias or id) was trained with nomic's task prefixes.

    >>> wants_prefixes("nomic-embed-text"), wants_prefixes("text-embedding-3-small")
    (True, False)
    """
    return any("nomic-embed" in name.casefold() for name in names)


def with_prefixes(inputs: tuple[str, ...], input_type: InputType | None) -> tuple[str, ...]:
    """`inputs` with the prefix of `input_type` (a document's by default) where they lack one.

    >>> with_prefixes(("where is x?", "search_query: y"), InputType.QUERY)
    ('search_query: where is x?', 'search_query: y')
    """
    prefix = NOMIC[input_type or DEFAULT]
    known = tuple(NOMIC.values())
    return tuple(text if text.startswith(known) else prefix + text for text in inputs)

"""Normalising and matching the names people type: task types, models, column headers."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

_SPACES = re.compile(r"\s+")

#: Cell values that mean "no fallback". Editors turn "--" into en or em dashes.
NO_FALLBACK = frozenset({"", "—", "–", "-", "--", "n/a", "na", "none", "no fallback", "nothing"})


def normalize(text: str) -> str:
    """Lower-case, trim and collapse inner whitespace: the key under which names are compared.

    >>> normalize("  Quick   Capture / Filing ")
    'quick capture / filing'
    """
    return _SPACES.sub(" ", text.strip()).casefold()


def loose(text: str) -> str:
    """A looser key that also ignores punctuation, for task types typed from memory.

    >>> loose("Vibe coding (interactive)") == loose("vibe-coding interactive")
    True
    >>> loose("会议摘要") == loose("代码生成")
    False
    """
    return re.sub(r"[\W_]+", "", normalize(unicodedata.normalize("NFKC", text)))


def nearest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to `name`, for "did you mean …?" hints; None when nothing is close."""
    pool = list(dict.fromkeys(candidates))
    by_key = {normalize(c): c for c in pool}
    match = difflib.get_close_matches(normalize(name), list(by_key), n=1, cutoff=cutoff)
    return by_key[match[0]] if match else None


def ollama_name(name: str) -> str:
    """Ollama's full name for a model: a tag defaults to ``latest``.

    >>> ollama_name("llama3.1:8b"), ollama_name("nomic-embed-text")
    ('llama3.1:8b', 'nomic-embed-text:latest')
    """
    return name if ":" in name else f"{name}:latest"

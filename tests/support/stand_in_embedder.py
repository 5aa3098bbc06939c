"""A deterministic stand-in for nomic-embed-text, for tests and the similarity benchmark.

Real embedding weights cannot be had on these machines, so this hashes a text's words, their
5-letter stems and their character trigrams into a fixed number of signed buckets and scales
the result to length 1: texts that share words land near each other, and the same text always
gets the same vector. It knows nothing of meaning (synonyms, other languages), which a real
model does: numbers measured with it say whether the mechanism works, not what nomic would gain.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

DIMS = 512
#: nomic's task prefixes say what a text is for; a bag of words would count them as words.
_PREFIXES = ("classification: ", "search_query: ", "search_document: ", "clustering: ")
_WORD = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _features(text: str) -> Counter[str]:
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    found: Counter[str] = Counter()
    for word in _WORD.findall(_fold(text)):
        # Short words are mostly function words ("the", "de", "ist"): a crude stand-in for IDF.
        weight = 1.0 if len(word) > 3 else 0.3
        found["w:" + word] += weight
        if len(word) > 5:
            found["s:" + word[:5]] += 0.7
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            found["c:" + padded[i : i + 3]] += 0.2 * weight
    return found


def stand_in_vector(text: str, dims: int = DIMS) -> list[float]:
    """The unit vector of `text` (all zeros for a text without words)."""
    vector = [0.0] * dims
    for feature, count in _features(text).items():
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dims
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[bucket] += sign * (1.0 + math.log(count)) if count >= 1 else sign * count
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


async def stand_in_embedder(texts: Sequence[str]) -> list[list[float]]:
    """The stand-in as cortexd's injected embedder: one vector per text."""
    return [stand_in_vector(text) for text in texts]

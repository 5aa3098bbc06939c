"""A bounded memory of what was read in a text, keyed by the text itself.

Every request carries its whole conversation, and a client sends it again with one more
turn each time: without a memory, the 49 turns a 50-turn conversation already had are read
again on every request. This keeps the answers for recent texts, least recently used out
first, bounded by the characters it holds (the texts are its keys), so a long paste costs
memory once and never without bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: Characters of text held as keys, in all: at most a few MiB of memory.
MAX_CHARS = 1_000_000
#: A text longer than this is read every time: keeping it would push out many short ones.
MAX_TEXT = 50_000


class TextMemo(Generic[T]):
    """Remembers `read(text)` for recent texts.

    >>> calls = []
    >>> memo = TextMemo(lambda text: calls.append(text) or len(text), max_chars=10)
    >>> memo("abcd"), memo("abcd"), memo("efghij"), memo("k"), memo("abcd")
    (4, 4, 6, 1, 4)
    >>> calls  # "abcd" fell out when "k" came in (11 characters > 10)
    ['abcd', 'efghij', 'k', 'abcd']
    """

    def __init__(
        self, read: Callable[[str], T], max_chars: int = MAX_CHARS, max_text: int = MAX_TEXT
    ) -> None:
        self._read = read
        self._max_chars = max_chars
        self._max_text = min(max_text, max_chars)
        self._kept: OrderedDict[str, T] = OrderedDict()
        self._chars = 0

    def __call__(self, text: str) -> T:
        """`read(text)`, from memory when `text` was read lately."""
        try:
            found = self._kept[text]
        except KeyError:
            pass
        else:
            self._kept.move_to_end(text)
            return found
        found = self._read(text)
        if len(text) <= self._max_text:
            self._kept[text] = found
            self._chars += len(text)
            while self._chars > self._max_chars:
                old, _ = self._kept.popitem(last=False)
                self._chars -= len(old)
        return found

    def __len__(self) -> int:
        return len(self._kept)

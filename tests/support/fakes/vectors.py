"""Deterministic embedding vectors, so tests can compare what two calls returned."""

from __future__ import annotations

import base64
import hashlib
import math
import struct


def embed_text(text: str, dims: int) -> list[float]:
    """A unit-length vector of ``dims`` floats derived from ``text`` alone.

    The values are float32-exact, so a float encoding and a base64 float32 encoding of the same
    vector decode to equal lists.
    """
    if dims <= 0:
        raise ValueError("dims must be positive")
    raw = hashlib.shake_256(text.encode()).digest(4 * dims)
    values = [(n / 0xFFFFFFFF) * 2.0 - 1.0 for n in struct.unpack(f"<{dims}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return to_float32([v / norm for v in values])


def to_float32(values: list[float]) -> list[float]:
    """Round each value to the nearest float32."""
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def to_base64(values: list[float]) -> str:
    """The vector as little-endian float32 bytes in base64, as OpenAI's ``base64`` format."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()

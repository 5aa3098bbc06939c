"""What a local model needs in memory, from the best source there is: its GGUF file (size,
layers, and the KV cache its shape implies at the context it will run with), Ollama's
listing (its size on disk), or the catalog's figures for the defaults.

`hardware.capacity` then answers whether that fits; this module knows models, not machines.
"""

from __future__ import annotations

from pathlib import Path

from cortexd.hardware import Need
from cortexd.routing.providers.llamacpp import read_gguf_info

GB = 1000**3
#: The context local models run with unless told otherwise (Ollama's default), in tokens.
DEFAULT_CONTEXT = 4096
#: Ollama's listing gives only a size: a KV cache per token of about 1/36,000 of the weights
#: matches the 7–14 B models with grouped-query attention at f16 (llama3.1:8b: 128 KiB).
KV_SHARE_PER_TOKEN = 1 / 36_000
#: The defaults' sizes as Ollama ships them (4-bit; nomic-embed-text at f16).
KNOWN_SIZES = {
    "llama3.1:8b": int(4.9 * GB),
    "qwen2.5-coder:14b": int(9.0 * GB),
    "qwen2.5:14b": int(9.0 * GB),
    "nomic-embed-text": int(0.274 * GB),
}


def gguf_need(path: Path, context: int = DEFAULT_CONTEXT) -> Need:
    """From the file: its weights (the file's size), its layers, and its KV cache at
    `context` (keys and values at f16 for every layer and KV head). Blocking: a thread."""
    info = read_gguf_info(path)
    tokens = min(context, info.context_length) if info.context_length else context
    kv = 0
    if info.layers and info.width and info.heads and info.kv_heads:
        head_dim = info.width // info.heads
        kv = 2 * info.layers * tokens * info.kv_heads * head_dim * 2
    return Need(path.stat().st_size, kv, info.layers)


def size_need(size_bytes: int, context: int = DEFAULT_CONTEXT) -> Need:
    """From a size alone (Ollama's listing, the catalog): the KV cache is estimated.

    >>> size_need(4_900_000_000).kv_cache_bytes // 1024**2
    531
    """
    return Need(size_bytes, int(size_bytes * KV_SHARE_PER_TOKEN * context))


def known_need(model_id: str, context: int = DEFAULT_CONTEXT) -> Need | None:
    """The catalog's figure for a default local model, when nothing better is known."""
    size = KNOWN_SIZES.get(model_id.removesuffix(":latest"))
    return None if size is None else size_need(size, context)

"""Tiny random-weight GGUF models, written at test time so that no test ever downloads weights.

* :func:`write_chat_model`: a ``llama`` decoder with a synthetic SentencePiece vocabulary and a
  ChatML-style Jinja template in ``tokenizer.chat_template``; llama-cpp-python can chat with it
  (the answers are noise, but every API path runs for real).
* :func:`write_embedding_model`: a ``nomic-bert`` encoder (the architecture of
  nomic-embed-text) with a WordPiece vocabulary and mean pooling.
* :func:`write_corrupt_model`: a file llama.cpp refuses with an ordinary Python exception.
* :func:`write_aborting_model`: a file that makes llama.cpp abort the whole process.

The files are a few hundred KB and are written in milliseconds.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import gguf
import numpy as np
import numpy.typing as npt

__all__ = [
    "CHAT_TEMPLATE",
    "write_aborting_model",
    "write_chat_model",
    "write_corrupt_model",
    "write_embedding_model",
]

# Not byte-for-byte llama-cpp-python's built-in ChatML template on purpose: an exact match would
# be "guessed" as the built-in ``chatml`` format, while this one makes llama-cpp-python render the
# Jinja template stored in the file (``llm.chat_format == "chat_template.default"``).
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# SentencePiece's visible space, which both the SPM and the WPM tokenizer of llama.cpp use to
# mark the start of a word.
_SPACE = "\u2581"

_PRINTABLE = [chr(c) for c in range(0x21, 0x7F)]
_ALNUM = string.ascii_letters + string.digits

# Whole-word tokens, so common text is not spelled out letter by letter.
_WORDS = (
    "the", "and", "you", "to", "of", "a", "is", "it", "in", "that", "for", "on", "with", "be",
    "are", "this", "was", "not", "can", "what", "how", "hello", "Hello", "there", "Be", "brief",
    "Hi", "thanks", "please", "user", "system", "assistant", "model", "text", "code", "test",
)  # fmt: skip

_HEAD_DIM = 16
_RMS_EPS = 1e-5
_LAYER_NORM_EPS = 1e-12

_Float16Array: TypeAlias = npt.NDArray[np.float16]
_Float32Array: TypeAlias = npt.NDArray[np.float32]
_Int32Array: TypeAlias = npt.NDArray[np.int32]
_Tensor: TypeAlias = _Float16Array | _Float32Array | _Int32Array


@dataclass(frozen=True)
class _Vocab:
    """A token list with the parallel arrays llama.cpp reads next to it."""

    tokens: list[str]
    types: list[int]
    scores: list[float]

    def id(self, text: str) -> int:
        return self.tokens.index(text)


def _vocab(specials: list[tuple[str, gguf.TokenType]], pieces: dict[str, None]) -> _Vocab:
    tokens = [text for text, _ in specials] + list(pieces)
    types = [int(kind) for _, kind in specials] + [int(gguf.TokenType.NORMAL)] * len(pieces)
    # SentencePiece stores a log-probability per piece and the SPM tokenizer merges the
    # highest-scoring pair first; a falling score keeps merges deterministic.
    scores = [-float(i) for i in range(len(tokens))]
    if len(set(tokens)) != len(tokens):
        raise AssertionError("duplicate token text: llama.cpp aborts on such a vocabulary")
    return _Vocab(tokens, types, scores)


def _spm_vocab() -> _Vocab:
    """SentencePiece vocabulary: specials, 256 byte-fallback tokens, characters and words."""
    control = gguf.TokenType.CONTROL
    specials = [
        ("<unk>", gguf.TokenType.UNKNOWN),
        ("<s>", control),
        ("</s>", control),
        ("<|im_start|>", control),
        ("<|im_end|>", control),
    ]
    # Byte fallback means any byte sequence tokenizes and detokenizes exactly, so no text
    # can hit <unk>; llama.cpp looks these up by the exact spelling "<0x0A>".
    specials += [(f"<0x{byte:02X}>", gguf.TokenType.BYTE) for byte in range(256)]
    pieces: dict[str, None] = dict.fromkeys([_SPACE, *_PRINTABLE])
    pieces.update(dict.fromkeys(_SPACE + ch for ch in _ALNUM))
    for word in _WORDS:
        spelled = _SPACE + word
        # SPM only ever merges two adjacent pieces into a piece in the vocabulary, so a word is
        # reachable only if every prefix of it is a piece too.
        pieces.update(dict.fromkeys(spelled[:end] for end in range(2, len(spelled) + 1)))
    return _vocab(specials, pieces)


def _wpm_vocab() -> _Vocab:
    """WordPiece vocabulary in llama.cpp's spelling: "▁" starts a word, bare pieces continue it."""
    control = gguf.TokenType.CONTROL
    specials = [(text, control) for text in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
    # Every word, and every punctuation mark (the tokenizer splits those off as words), must be
    # able to start with a "▁" piece, else the whole word becomes [UNK].
    pieces: dict[str, None] = dict.fromkeys(_SPACE + ch for ch in _PRINTABLE)
    pieces.update(dict.fromkeys(_ALNUM))
    pieces.update(dict.fromkeys(_SPACE + word for word in _WORDS))
    return _vocab(specials, pieces)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> _Float16Array:
    return (rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float16)


def _ones(n: int) -> _Float32Array:
    return np.ones(n, dtype=np.float32)


def _zeros(n: int) -> _Float32Array:
    return np.zeros(n, dtype=np.float32)


def _check_width(n_layer: int, n_embd: int) -> int:
    if n_layer < 1:
        raise ValueError(f"n_layer must be at least 1, got {n_layer}")
    if n_embd < _HEAD_DIM or n_embd % _HEAD_DIM:
        raise ValueError(f"n_embd must be a positive multiple of {_HEAD_DIM}, got {n_embd}")
    return n_embd // _HEAD_DIM


def _write(writer: gguf.GGUFWriter, tensors: dict[str, _Tensor]) -> None:
    # numpy's shape is ggml's ``ne`` reversed: an (n_vocab, n_embd) array is {n_embd, n_vocab}.
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _chat_tensors(vocab: _Vocab, n_layer: int, n_embd: int, seed: int) -> dict[str, _Tensor]:
    rng = np.random.default_rng(seed)
    n_vocab = len(vocab.tokens)
    n_ff = 2 * n_embd
    output = _normal(rng, (n_vocab, n_embd), 0.3)
    # A zero row gives a logit of exactly 0 while the ~240 normal tokens spread around it, so the
    # sampler's top-k never reaches specials and bytes: no early end-of-generation (completions
    # always have tokens) and no stray invalid UTF-8 in generated text.
    output[[i for i, kind in enumerate(vocab.types) if kind != gguf.TokenType.NORMAL]] = 0
    tensors: dict[str, _Tensor] = {
        "token_embd.weight": _normal(rng, (n_vocab, n_embd), 0.5),
        "output_norm.weight": _ones(n_embd),
        "output.weight": output,
    }
    for i in range(n_layer):
        tensors.update(
            {
                f"blk.{i}.attn_norm.weight": _ones(n_embd),
                f"blk.{i}.attn_q.weight": _normal(rng, (n_embd, n_embd), 0.05),
                f"blk.{i}.attn_k.weight": _normal(rng, (n_embd, n_embd), 0.05),
                f"blk.{i}.attn_v.weight": _normal(rng, (n_embd, n_embd), 0.05),
                f"blk.{i}.attn_output.weight": _normal(rng, (n_embd, n_embd), 0.05),
                f"blk.{i}.ffn_norm.weight": _ones(n_embd),
                f"blk.{i}.ffn_gate.weight": _normal(rng, (n_ff, n_embd), 0.05),
                f"blk.{i}.ffn_up.weight": _normal(rng, (n_ff, n_embd), 0.05),
                f"blk.{i}.ffn_down.weight": _normal(rng, (n_embd, n_ff), 0.05),
            }
        )
    return tensors


def _write_chat_file(
    path: Path,
    vocab: _Vocab,
    tensors: dict[str, _Tensor],
    *,
    n_layer: int,
    n_embd: int,
    n_ctx: int,
) -> Path:
    n_head = _check_width(n_layer, n_embd)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("cortexd tiny random chat model")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(2 * n_embd)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(_HEAD_DIM)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(_RMS_EPS)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_bos_token_id(vocab.id("<s>"))
    writer.add_eos_token_id(vocab.id("</s>"))
    writer.add_unk_token_id(vocab.id("<unk>"))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    _write(writer, tensors)
    return path


def write_chat_model(
    path: Path, *, n_layer: int = 2, n_embd: int = 64, n_ctx: int = 256, seed: int = 0
) -> Path:
    """Write a tiny random ``llama`` chat model to ``path`` and return ``path``.

    The vocabulary (505 tokens) has ``<unk>``/``<s>``/``</s>``, the ChatML markers
    ``<|im_start|>``/``<|im_end|>`` as control tokens, 256 byte-fallback tokens (so any text
    round-trips through tokenize/detokenize), the printable ASCII characters and a few words
    (244 ordinary pieces). ``tokenizer.chat_template`` holds a ChatML-style Jinja template.
    Weights are f16 (norms f32), drawn from ``seed``; ``n_embd`` must be a multiple of 16 (one
    attention head per 16). Generation never picks a special or byte token, so a completion
    runs to ``max_tokens``.
    """
    _check_width(n_layer, n_embd)
    vocab = _spm_vocab()
    tensors = _chat_tensors(vocab, n_layer, n_embd, seed)
    return _write_chat_file(path, vocab, tensors, n_layer=n_layer, n_embd=n_embd, n_ctx=n_ctx)


def write_embedding_model(path: Path, *, n_layer: int = 2, n_embd: int = 64, seed: int = 0) -> Path:
    """Write a tiny random ``nomic-bert`` embedding model to ``path`` and return ``path``.

    Bidirectional attention, mean pooling and a WordPiece (``bert``) vocabulary of about 200
    tokens that covers printable ASCII, so ``Llama(..., embedding=True).embed(text)`` returns
    one vector of length ``n_embd`` per text. Context length 512; ``n_embd`` must be a multiple
    of 16.
    """
    n_head = _check_width(n_layer, n_embd)
    vocab = _wpm_vocab()
    rng = np.random.default_rng(seed)
    n_vocab = len(vocab.tokens)
    n_ff = 2 * n_embd
    tensors: dict[str, _Tensor] = {
        "token_embd.weight": _normal(rng, (n_vocab, n_embd), 0.5),
        # f32, not f16: the graph adds a row of it to f32 activations, and ggml's CPU add has no
        # f32 + f16 kernel (an f16 table aborts the process on the first embed).
        "token_types.weight": _normal(rng, (2, n_embd), 0.5).astype(np.float32),
        "token_embd_norm.weight": _ones(n_embd),
        "token_embd_norm.bias": _zeros(n_embd),
    }
    for i in range(n_layer):
        tensors.update(
            {
                # nomic-bert ships Q, K and V fused, as nomic-embed-text's GGUF does.
                f"blk.{i}.attn_qkv.weight": _normal(rng, (3 * n_embd, n_embd), 0.05),
                f"blk.{i}.attn_output.weight": _normal(rng, (n_embd, n_embd), 0.05),
                f"blk.{i}.attn_output_norm.weight": _ones(n_embd),
                f"blk.{i}.attn_output_norm.bias": _zeros(n_embd),
                f"blk.{i}.ffn_gate.weight": _normal(rng, (n_ff, n_embd), 0.05),
                f"blk.{i}.ffn_up.weight": _normal(rng, (n_ff, n_embd), 0.05),
                f"blk.{i}.ffn_down.weight": _normal(rng, (n_embd, n_ff), 0.05),
                f"blk.{i}.layer_output_norm.weight": _ones(n_embd),
                f"blk.{i}.layer_output_norm.bias": _zeros(n_embd),
            }
        )
    writer = gguf.GGUFWriter(path, "nomic-bert")
    writer.add_name("cortexd tiny random embedding model")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(512)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_layer_norm_eps(_LAYER_NORM_EPS)
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_rope_freq_base(1000.0)
    writer.add_tokenizer_model("bert")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    # The nomic-bert loader refuses a file without this count (sentence A / sentence B).
    writer.add_token_type_count(2)
    writer.add_bos_token_id(vocab.id("[CLS]"))
    writer.add_sep_token_id(vocab.id("[SEP]"))
    writer.add_unk_token_id(vocab.id("[UNK]"))
    writer.add_pad_token_id(vocab.id("[PAD]"))
    writer.add_mask_token_id(vocab.id("[MASK]"))
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    _write(writer, tensors)
    return path


def write_corrupt_model(path: Path) -> Path:
    """Write a well-formed GGUF chat model that lacks a required tensor; return ``path``.

    llama.cpp reads the header, metadata and vocabulary, then refuses the model (its log says
    "check_tensor_dims: tensor 'output_norm.weight' not found"); llama-cpp-python raises
    ``ValueError("Failed to load model from file: <path>")`` and the process lives on.
    """
    vocab = _spm_vocab()
    tensors = _chat_tensors(vocab, 1, 32, 0)
    del tensors["output_norm.weight"]
    return _write_chat_file(path, vocab, tensors, n_layer=1, n_embd=32, n_ctx=256)


def write_aborting_model(path: Path) -> Path:
    """Write a GGUF model that makes llama.cpp abort the process while loading; return ``path``.

    ``token_embd.weight`` is stored as I32 instead of a float type. The header, metadata and
    every tensor shape are valid, so the weights load; reserving the compute graph for the new
    context then finds no CPU kernel that can look rows up in an I32 table and fails
    ``GGML_ASSERT(*cur_backend_id != -1)`` inside ``Llama(...)``, which calls ``abort()``:
    SIGABRT (exit status 134 from a shell, ``returncode == -6`` from :mod:`subprocess`). No
    Python exception is raised, so only ever load it in a child process; set
    ``GGML_NO_BACKTRACE=1`` there, or ggml first runs gdb to print a backtrace (slow).
    """
    vocab = _spm_vocab()
    tensors = _chat_tensors(vocab, 1, 32, 0)
    tensors["token_embd.weight"] = tensors["token_embd.weight"].astype(np.int32)
    return _write_chat_file(path, vocab, tensors, n_layer=1, n_embd=32, n_ctx=256)

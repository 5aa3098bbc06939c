"""Multinomial logistic regression on sparse rows, for the training scripts.

The override model's rows have about ninety features each out of some thirty thousand: a
dense matrix would be a gigabyte and its products minutes per fit. Here a row is its
feature indices and values, and the two products the gradient needs are scatter-adds.
Full-batch Adam on class-balanced cross-entropy with L2 (bias unregularised); both
training scripts use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


class SparseRows:
    """Rows of (feature index, value) pairs, held flat."""

    def __init__(self, idx: np.ndarray, val: np.ndarray, counts: np.ndarray) -> None:
        self.idx, self.val = idx, val
        self.n = len(counts)
        self.rows = np.repeat(np.arange(self.n), counts)

    @classmethod
    def of(cls, feats: Sequence[Mapping[str, float]], vocab: Mapping[str, int]) -> SparseRows:
        """The rows of `feats`, features outside `vocab` left out."""
        idx: list[int] = []
        val: list[float] = []
        counts = []
        for f in feats:
            before = len(idx)
            for name, v in f.items():
                j = vocab.get(name)
                if j is not None:
                    idx.append(j)
                    val.append(v)
            counts.append(len(idx) - before)
        return cls(np.array(idx, np.int64), np.array(val, np.float32), np.array(counts))

    def take(self, mask: np.ndarray) -> SparseRows:
        """The rows where `mask` is true."""
        keep = mask[self.rows]
        counts = np.bincount(self.rows[keep], minlength=self.n)[mask]
        return SparseRows(self.idx[keep], self.val[keep], counts)

    def dot(self, w: np.ndarray) -> np.ndarray:
        """rows @ w."""
        out = np.zeros((self.n, w.shape[1]), np.float32)
        np.add.at(out, self.rows, w[self.idx] * self.val[:, None])
        return out

    def tdot(self, g: np.ndarray, d: int) -> np.ndarray:
        """rows.T @ g, for `d` features."""
        out = np.zeros((d, g.shape[1]), np.float32)
        np.add.at(out, self.idx, g[self.rows] * self.val[:, None])
        return out


def fit(
    x: SparseRows, y: np.ndarray, d: int, n_labels: int, l2: float, epochs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (d × labels) and biases."""
    w = np.zeros((d, n_labels), np.float32)
    b = np.zeros(n_labels, np.float32)
    onehot = np.eye(n_labels, dtype=np.float32)[y]
    counts = np.bincount(y, minlength=n_labels).astype(np.float32)
    sample_w = (x.n / (n_labels * np.maximum(counts, 1)))[y][:, None]
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    lr, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
    for t in range(1, epochs + 1):
        p = probabilities(x, w, b)
        g = (p - onehot) * sample_w / x.n
        gw = x.tdot(g, d) + l2 * w
        gb = g.sum(axis=0)
        m_w = b1 * m_w + (1 - b1) * gw
        v_w = b2 * v_w + (1 - b2) * gw * gw
        m_b = b1 * m_b + (1 - b1) * gb
        v_b = b2 * v_b + (1 - b2) * gb * gb
        w -= lr * (m_w / (1 - b1**t)) / (np.sqrt(v_w / (1 - b2**t)) + eps)
        b -= lr * (m_b / (1 - b1**t)) / (np.sqrt(v_b / (1 - b2**t)) + eps)
    return w, b


def probabilities(x: SparseRows, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each row's probability of each label."""
    z = x.dot(w) + b
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)

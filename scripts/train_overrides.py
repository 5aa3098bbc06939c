"""Train the override model: `uv run python scripts/train_overrides.py`.

Reads the labelled prompts in tests/data/overrides_train/*.jsonl and the older
tests/data/overrides*.jsonl sets, plus every prompt of the task sets that names a model
(none of them is a directive), makes one row per candidate span (overrides/spans.py), and
learns mention / turn / session / redo (overrides/model.py). The L2 strength and the
threshold are chosen on 5-fold cross-validation, grouped by prompt: the threshold is the
lowest whose out-of-fold precision is at least `--precision`. It also learns the directive
vocabulary (overrides/extent.py) from the labels' cut-out words. Writes
routing/overrides/override_model.json. Never reads the fresh sets
(tests/data/overrides_fresh*.jsonl): those are written after the model is frozen, to score it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sparse_fit import SparseRows, fit, probabilities  # noqa: E402
from train_classifier import to_model, vocabulary  # noqa: E402

from cortexd.routing.catalog import build_catalog  # noqa: E402
from cortexd.routing.classifier.model import TaskModel, split_weights  # noqa: E402
from cortexd.routing.overrides.extent import Vocabulary  # noqa: E402
from cortexd.routing.overrides.features import features_of, tokens, topics_of  # noqa: E402
from cortexd.routing.overrides.model import MENTION, SCOPES, OverrideModel  # noqa: E402
from cortexd.routing.overrides.revocations import REVOKE, RevocationModel, first_sentence  # noqa: E402
from cortexd.routing.overrides.revocations import features_of as revocation_features  # noqa: E402
from cortexd.routing.overrides.spans import HEAD, TAIL, Candidate, CandidateFinder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = ROOT / "routing" / "overrides" / "override_model.json"
REVOCATIONS_OUT = ROOT / "routing" / "overrides" / "revocation_model.json"
LABELS = [MENTION, *SCOPES]
SEED = 20261207


@dataclass(frozen=True)
class Labelled:
    prompt: str
    model: str | None
    unknown: str | None
    scope: str | None
    cleaned: str | None
    revoke: bool = False


def labelled_sets() -> list[Path]:
    """The training files: never a fresh (evaluation-only) set."""
    files = sorted((DATA / "overrides_train").glob("*.jsonl"))
    files += sorted(p for p in DATA.glob("overrides*.jsonl") if "fresh" not in p.name)
    return files


def load(path: Path) -> list[Labelled]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        model, unknown = item.get("model"), item.get("unknown")
        scope = item.get("scope") or ("turn" if model or unknown else None)
        revoke = scope == "revoke"
        if revoke:
            model = unknown = scope = None  # no model named: the revocation model's to learn
        rows.append(Labelled(item["prompt"], model, unknown, scope, item.get("cleaned"), revoke))
    return rows


def task_prompts() -> list[Labelled]:
    """The task sets' last user turns: people's requests, none of them a directive."""
    rows = []
    for path in sorted(DATA.glob("classify_*.jsonl")):
        if "final" in path.name:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                users = [m for m in json.loads(line)["messages"] if m["role"] == "user"]
                if users:
                    rows.append(Labelled(users[-1]["content"], None, None, None, None))
    return rows


def positives(row: Labelled, found: list[Candidate]) -> set[int]:
    """Which candidates are the directive: its model's names, outside the kept text."""
    named = [
        i for i, c in enumerate(found)
        if (row.model and c.model == row.model) or (row.unknown and c.unknown == row.unknown)
    ]  # fmt: skip
    if len(named) <= 1 or not row.cleaned:
        return set(named[:1]) if len(named) == 1 else set(named[-1:])
    at = row.prompt.find(row.cleaned)
    outside = {i for i in named if at < 0 or not at <= found[i].start < at + len(row.cleaned)}
    return outside or set(named[-1:])


def directive_vocabulary(rows: list[Labelled]) -> Vocabulary:
    """The words cut out of the prompts, and those the cut-out part ends on before the
    request follows without a break."""
    words: Counter[str] = Counter()
    lead_out: Counter[str] = Counter()
    in_requests: Counter[str] = Counter()
    for row in rows:
        if not row.cleaned or not (row.model or row.unknown):
            continue
        at = row.prompt.find(row.cleaned)
        if at < 0:
            continue
        removed = row.prompt[:at] + " " + row.prompt[at + len(row.cleaned) :]
        words.update({t.text for t in tokens(removed) if t.text[0].isalnum()})
        in_requests.update({t.text for t in tokens(row.cleaned) if t.text[0].isalnum()})
        head = tokens(row.prompt[:at])
        if head and head[-1].text[0].isalnum():
            lead_out[head[-1].text] += 1
    names = {t for s in build_catalog().spellings() for t in re.split(r"[\s:.-]+", s)}
    # A word the labels cut out at least a tenth as often as they keep it.
    kept = {
        w for w, n in words.items()
        if n >= 2 and n >= 0.1 * in_requests[w] and w not in names and not w.isdigit()
    }  # fmt: skip
    return Vocabulary(frozenset(kept), frozenset(w for w, n in lead_out.items() if n >= 2))


def rows_of(
    data: list[Labelled], finder: CandidateFinder
) -> tuple[list[dict[str, float]], list[int], list[int]]:
    feats, labels, groups = [], [], []
    for g, row in enumerate(data):
        found = finder.find(row.prompt)
        if not found:
            continue
        toks = tokens(row.prompt, HEAD, TAIL)
        topics = topics_of(toks)
        hits = positives(row, found) if row.scope else set()
        for i, candidate in enumerate(found):
            feats.append(features_of(row.prompt, toks, candidate, topics))
            labels.append(LABELS.index(row.scope) if i in hits and row.scope else 0)
            groups.append(g)
    return feats, labels, groups


def out_of_fold(x: SparseRows, y, groups, l2, epochs, folds=5, labels=4) -> np.ndarray:
    """P(directive) for every row from a model that did not see its prompt."""
    ids = sorted(set(groups))
    random.Random(SEED).shuffle(ids)
    fold_of = {g: k % folds for k, g in enumerate(ids)}
    fold = np.array([fold_of[g] for g in groups])
    p = np.zeros(len(y))
    d = int(x.idx.max()) + 1
    for k in range(folds):
        w, b = fit(x.take(fold != k), y[fold != k], d, labels, l2, epochs)
        p[fold == k] = 1 - probabilities(x.take(fold == k), w, b)[:, 0]
    return p


def by_prompt(p, y, groups) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt: its best candidate's P(directive), and whether it has a directive."""
    best: dict[int, float] = {}
    truth: dict[int, bool] = {}
    for score, label, g in zip(p, y, groups, strict=True):
        best[g] = max(best.get(g, 0.0), float(score))
        truth[g] = truth.get(g, False) or label != 0
    keys = sorted(best)
    return np.array([best[g] for g in keys]), np.array([truth[g] for g in keys])


def pick_threshold(scores, truth, precision: float) -> tuple[float, float, float]:
    best = (0.99, 0.0, 1.0)
    for t in np.arange(0.3, 0.995, 0.01):
        said = scores >= t
        tp = int((said & truth).sum())
        prec = tp / max(int(said.sum()), 1)
        rec = tp / max(int(truth.sum()), 1)
        if prec >= precision and rec > best[1]:
            best = (float(t), rec, prec)
    return best


def tokens_of(sentence: str) -> set[str]:
    """The words a revocation's cue test sees (routing/overrides/revocations.py)."""
    return set(re.findall(r"[^\W_]+(?:['’-][^\W_]+)*", sentence.casefold()))


def train_revocations(data: list[Labelled], finder: CandidateFinder, epochs: int) -> None:
    """The revocation model (routing/overrides/revocations.py): first sentences, revoke or not."""
    sentences = [first_sentence(row.prompt) for row in data]
    y = np.array([int(row.revoke) for row in data])
    said: Counter[str] = Counter()
    for sentence, label in zip(sentences, y, strict=True):
        if label:
            said.update({w for w in tokens_of(sentence) if len(w) >= 4})
    common: Counter[str] = Counter()
    for sentence, label in zip(sentences, y, strict=True):
        if not label:
            common.update(tokens_of(sentence))
    frequent = {w for w, _ in common.most_common(60)}
    cues = frozenset(w for w, n in said.items() if n >= 2 and w not in frequent)
    # Only sentences with a cue word are ever read by the model: train on those alone.
    kept = [i for i, s in enumerate(sentences) if not cues.isdisjoint(tokens_of(s))]
    sentences, y = [sentences[i] for i in kept], y[kept]
    feats = [revocation_features(s, finder) for s in sentences]
    vocab = vocabulary(feats, 2)
    x = SparseRows.of(feats, {name: i for i, name in enumerate(vocab)})
    groups = list(range(len(y)))
    p = out_of_fold(x, y, groups, 1e-4, epochs, labels=2)
    t, rec, prec = pick_threshold(p, y.astype(bool), 0.98)
    print(f"revocations: {int(y.sum())} of {len(y)}; threshold {t:.2f} → CV recall {rec:.1%} "
          f"at precision {prec:.1%}; {len(cues)} cue words")  # fmt: skip
    w, b = fit(x, y, len(vocab), 2, 1e-4, epochs)
    weights = TaskModel.from_json(json.dumps(to_model(vocab, ["other", REVOKE], w, b)))
    REVOCATIONS_OUT.write_text(RevocationModel(weights, t, cues).to_json(), encoding="utf-8")
    split_weights(REVOCATIONS_OUT)  # the weights in a file of their own, which the daemon maps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--l2", type=float, nargs="*", default=[3e-5, 1e-4])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--precision", type=float, default=0.98)
    args = parser.parse_args()
    files = labelled_sets()
    data = [row for path in files for row in load(path)]
    extra = task_prompts()
    print(f"{len(data)} labelled prompts from {len(files)} files; {len(extra)} task prompts")
    finder = CandidateFinder(build_catalog())
    feats, y_list, groups = rows_of(data + extra, finder)
    vocab = vocabulary(feats, 2)
    x = SparseRows.of(feats, {name: i for i, name in enumerate(vocab)})
    y = np.array(y_list)
    print(f"{len(y)} candidates ({int((y != 0).sum())} directives), {len(vocab)} features")
    results = []
    for l2 in args.l2:
        scores, truth = by_prompt(out_of_fold(x, y, groups, l2, args.epochs), y, groups)
        t, rec, prec = pick_threshold(scores, truth, args.precision)
        print(f"l2={l2:g}: threshold {t:.2f} → CV recall {rec:.1%} at precision {prec:.1%}")
        results.append((rec, l2, t))
    rec, l2, threshold = max(results)
    w, b = fit(x, y, len(vocab), len(LABELS), l2, args.epochs)
    weights = TaskModel.from_json(json.dumps(to_model(vocab, LABELS, w, b)))
    model = OverrideModel(weights, directive_vocabulary(data), threshold)
    OUT.write_text(model.to_json(), encoding="utf-8")
    split_weights(OUT)
    print(f"wrote {OUT.relative_to(ROOT)}: l2={l2:g}, threshold {threshold:.2f}")
    train_revocations(data + extra, finder, args.epochs)
    print(f"wrote {REVOCATIONS_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

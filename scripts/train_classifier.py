"""Train the task model: `uv run python scripts/train_classifier.py [--report FILE ...]`.

Learns a multinomial logistic regression over routing/classifier/features.py from the labelled
conversations in tests/data/classify_*.jsonl (all but the final set, which is only ever
used to report accuracy), picks the L2 strength by 5-fold cross-validation, and writes
routing/classifier/task_model.json. numpy is needed here only (a dev dependency); inference is pure
Python.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sparse_fit import SparseRows, fit, probabilities

from cortexd.routing.classifier.features import features_of
from cortexd.routing.classifier.model import TaskModel, split_weights
from cortexd.routing.classifier.model import load as load_model
from cortexd.routing.request import Message

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = ROOT / "routing" / "classifier" / "task_model.json"
EVAL_ONLY = {"classify_final.jsonl", "classify_fresh.jsonl"}  # scored only, never trained on
SPARSE_KINDS = ("w:", "p:", "b:", "h:", "pw:")
SEED = 20261125
#: Features whose every weight is smaller than this are left out of the shipped file.
PRUNE_BELOW = 0.01


#: The sets the rule lexicon was written against; folds for cross-validation avoid them.
RULES_TUNED_ON = {"classify_dev.jsonl", "classify_holdout.jsonl"}


def load(path: Path) -> list[tuple[list[Message], str, bool]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            messages = [Message(m["role"], m["content"]) for m in item["messages"]]
            rows.append((messages, item["task"], bool(item.get("hard"))))
    return rows


def featurize(rows: list[tuple[list[Message], str, bool]]) -> list[dict[str, float]]:
    return [features_of(messages) for messages, _, _ in rows]


def vocabulary(feats: list[dict[str, float]], min_df: int) -> list[str]:
    df: Counter[str] = Counter()
    for f in feats:
        df.update(f.keys())
    return sorted(k for k, n in df.items() if n >= min_df or not k.startswith(SPARSE_KINDS))


def cross_validate(
    x: SparseRows,
    y: np.ndarray,
    n_labels: int,
    l2: float,
    epochs: int,
    clean: np.ndarray,
    folds: int = 5,
) -> float:
    """Accuracy on held-out folds of the `clean` rows (sets the rules were not tuned on).

    The rules' word lists were written while reading the development sets, so folds drawn
    from those would flatter any model that trusts the rules; every row still trains.
    """
    order = [int(i) for i in np.flatnonzero(clean)] or list(range(len(y)))
    random.Random(SEED).shuffle(order)
    correct = 0
    d = int(x.idx.max()) + 1
    for k in range(folds):
        test = np.array(order[k::folds])
        mask = np.ones(len(y), dtype=bool)
        mask[test] = False
        w, b = fit(x.take(mask), y[mask], d, n_labels, l2, epochs)
        held = np.zeros(len(y), dtype=bool)
        held[test] = True
        guessed = probabilities(x.take(held), w, b).argmax(axis=1)
        correct += int((guessed == y[held]).sum())
    return correct / len(order)


def to_model(vocab: list[str], labels: list[str], w: np.ndarray, b: np.ndarray) -> dict:
    weights = {}
    for j, name in enumerate(vocab):
        row = [round(float(v), 3) for v in w[j]]
        if max(abs(v) for v in row) >= PRUNE_BELOW:
            weights[name] = row
    return {"labels": labels, "bias": [round(float(v), 4) for v in b], "weights": weights}


def evaluate(model: TaskModel, rows, name: str) -> None:
    from cortexd.routing.classifier.classify import TaskClassifier

    classifier = TaskClassifier(model.labels, model=model)
    per: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    hard = hard_hits = 0
    for messages, task, is_hard in rows:
        ok = classifier.classify(messages).task == task
        per[task] += 1
        hits[task] += ok
        hard += is_hard
        hard_hits += ok and is_hard
    total = sum(hits.values()) / len(rows)
    print(
        f"{name}: {total:.1%} overall, {hard_hits / max(hard, 1):.1%} on hard cases ({len(rows)})"
    )
    for task in sorted(per):
        print(f"  {task:28s} {hits[task]:3d}/{per[task]:3d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", nargs="*", default=["classify_final.jsonl"])
    parser.add_argument("--l2", type=float, nargs="*", default=[3e-5, 1e-4])
    parser.add_argument("--epochs", type=int, nargs="*", default=[150, 250])
    parser.add_argument("--min-df", type=int, default=2)
    args = parser.parse_args()
    found = DATA.glob("classify_*.jsonl")
    files = sorted(p for p in found if p.name not in EVAL_ONLY and "fresh" not in p.name)
    per_file = [(path, load(path)) for path in files]
    rows = [row for _, file_rows in per_file for row in file_rows]
    clean = np.array(
        [path.name not in RULES_TUNED_ON for path, file_rows in per_file for _ in file_rows]
    )
    print(f"training on {len(rows)} conversations from {', '.join(p.name for p in files)}")
    feats = featurize(rows)
    labels = sorted({task for _, task, _ in rows})
    vocab = vocabulary(feats, args.min_df)
    index = {name: i for i, name in enumerate(vocab)}
    x = SparseRows.of(feats, index)
    y = np.array([labels.index(task) for _, task, _ in rows])
    print(f"{len(vocab)} features, {len(labels)} labels")
    grid = [(l2, epochs) for l2 in args.l2 for epochs in args.epochs]
    best = max(grid, key=lambda g: cv_report(x, y, len(labels), g[0], g[1], clean))
    w, b = fit(x, y, len(vocab), len(labels), best[0], best[1])
    data = to_model(vocab, labels, w, b)
    # Shipped packed (32-bit floats in base64): the daemon keeps 4 MiB of it, not 30.
    OUT.write_text(TaskModel.from_json(json.dumps(data)).to_json())
    split_weights(OUT)  # the weights in a file of their own, which the daemon maps
    print(
        f"wrote {OUT.relative_to(ROOT)}: {len(data['weights'])} weighted features, "
        f"l2={best[0]:g}, epochs={best[1]}"
    )
    model = load_model(OUT.parent, OUT.name)[0]
    for name in args.report:
        evaluate(model, load(DATA / name), name)
    return 0


def cv_report(
    x: SparseRows, y: np.ndarray, n_labels: int, l2: float, epochs: int, clean: np.ndarray
) -> float:
    accuracy = cross_validate(x, y, n_labels, l2, epochs, clean)
    print(f"  l2={l2:g} epochs={epochs}: 5-fold cross-validated accuracy {accuracy:.1%}")
    return accuracy


if __name__ == "__main__":
    sys.exit(main())

"""The learned task model: loading, probabilities, masking, explanations, its data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cortexd.routing.classifier.model import TaskModel

DATA = Path(__file__).parent / "data"
LABELS = {
    "Quick capture / filing", "Meeting summary", "Complex reasoning", "Code generation",
    "Code review", "Content drafting", "Research / analysis", "Classification / routing",
    "Bulk operations", "Security audit", "Vibe coding (interactive)", "Debugging / tracing",
    "General agent work",
}  # fmt: skip

TINY = json.dumps(
    {
        "labels": ["A", "B", "C"],
        "bias": [0.0, 0.0, 0.0],
        "weights": {
            "w:alpha": [2.0, 0.0, 0.0],
            "w:beta": [0.0, 1.5, 0.0],
            "s:diff": [0.0, 0.0, 3.0],
        },
    }
)


def test_probabilities_follow_the_weights_and_sum_to_one() -> None:
    model = TaskModel.from_json(TINY)
    probs = model.probabilities({"w:alpha": 1.0}, frozenset({"A", "B", "C"}))
    assert probs[0] == max(probs)
    assert sum(probs) == pytest.approx(1.0)


def test_labels_outside_the_table_get_no_probability() -> None:
    model = TaskModel.from_json(TINY)
    probs = model.probabilities({"s:diff": 1.0}, frozenset({"A", "B"}))
    assert probs[2] == 0.0 and probs[0] + probs[1] == pytest.approx(1.0)


def test_unknown_features_are_ignored() -> None:
    model = TaskModel.from_json(TINY)
    assert model.logits({"w:never-seen": 1.0}) == [0.0, 0.0, 0.0]


def test_evidence_names_the_strongest_features_readably() -> None:
    model = TaskModel.from_json(TINY)
    assert model.evidence({"w:alpha": 1.0, "w:beta": 1.0}, "A") == ["'alpha' (+2.0)"]
    assert model.evidence({"s:diff": 1.0}, "C") == ["diff (+3.0)"]


def test_a_malformed_model_is_refused() -> None:
    bad = json.dumps({"labels": ["A", "B"], "bias": [0, 0], "weights": {"w:x": [1.0]}})
    with pytest.raises(ValueError, match="one value per label"):
        TaskModel.from_json(bad)


def test_the_shipped_model_loads_and_knows_every_task_type() -> None:
    model = TaskModel.shipped()
    assert set(model.labels) == LABELS
    assert len(model.weights) > 1000


@pytest.mark.parametrize("path", sorted(DATA.glob("classify_*.jsonl")), ids=lambda p: p.name)
def test_labelled_sets_are_well_formed(path: Path) -> None:
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        assert item["task"] in LABELS, item["id"]
        assert item["messages"][-1]["role"] == "user", item["id"]
        assert {m["role"] for m in item["messages"]} <= {"user", "assistant", "system"}
        assert item["id"] not in ids
        ids.add(item["id"])
    assert len(ids) >= 150


def test_the_packed_form_round_trips_and_matches_the_unpacked_one() -> None:
    plain = json.dumps(
        {
            "labels": ["A", "B"],
            "bias": [0.5, -0.5],
            "weights": {"w:x": [1.25, -2.0], "w:y": [0.001, 3.5]},
        }
    )
    unpacked = TaskModel.from_json(plain)
    packed = TaskModel.from_json(unpacked.to_json())
    shipped_form = json.loads(unpacked.to_json())
    assert {"keys", "packed"} <= set(shipped_form) and "features" not in shipped_form
    assert packed.weights.keys == unpacked.weights.keys and len(packed.weights) == 2
    assert packed.weights["w:y"] == pytest.approx((0.001, 3.5), rel=1e-6)
    assert "w:x" in packed.weights and "w:unknown" not in packed.weights
    with pytest.raises(KeyError):
        packed.weights["w:unknown"]
    features = {"w:x": 1.0, "w:y": 2.0, "w:unknown": 9.0}
    assert packed.logits(features) == pytest.approx([0.5 + 1.25 + 0.002, -0.5 - 2.0 + 7.0])


def test_a_model_with_named_features_still_loads_as_keys() -> None:
    # The form models were shipped in before issue 24: names, and packed weights.
    named = json.dumps(
        {"labels": ["A"], "bias": [0.0], "features": ["w:b", "w:a"], "packed": "AACAPwAAAEA="}
    )
    model = TaskModel.from_json(named)
    assert model.weights["w:b"] == (1.0,) and model.weights["w:a"] == (2.0,)
    assert model.logits({"w:a": 1.0, "w:b": 1.0}) == [3.0]


def test_a_packed_model_with_the_wrong_number_of_weights_is_refused() -> None:
    bad = json.dumps({"labels": ["A", "B"], "bias": [0, 0], "features": ["w:x"], "packed": ""})
    with pytest.raises(ValueError, match="one value per label"):
        TaskModel.from_json(bad)


def test_weights_in_a_file_of_their_own_are_mapped_and_read_the_same(tmp_path: Path) -> None:
    from cortexd.routing.classifier.model import load, split_weights

    inside = TaskModel.from_json(TINY)
    path = tmp_path / "m.json"
    path.write_text(inside.to_json(), encoding="utf-8")
    split_weights(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["weights_file"] == "m.bin" and "packed" not in data and "keys" not in data
    assert (tmp_path / "m.bin").stat().st_size == 3 * (8 + 4 * 3)
    mapped, read = load(tmp_path, "m.json")
    assert read["labels"] == ["A", "B", "C"]
    for features in ({"w:alpha": 1.0}, {"w:beta": 2.0, "s:diff": 1.0}, {"w:none": 1.0}):
        assert mapped.logits(features) == pytest.approx(inside.logits(features))
    assert mapped.evidence({"w:alpha": 1.0}, "A") == ["'alpha' (+2.0)"]
    # A weights file cut short is refused, not read past its end.
    (tmp_path / "m.bin").write_bytes((tmp_path / "m.bin").read_bytes()[:-4])
    with pytest.raises(ValueError, match="m.bin"):
        load(tmp_path, "m.json")


def test_the_shipped_models_map_their_weights() -> None:
    from importlib.resources import files

    for package, name in [
        ("cortexd.routing.classifier", "task_model.json"),
        ("cortexd.routing.overrides", "override_model.json"),
        ("cortexd.routing.overrides", "revocation_model.json"),
    ]:
        data = json.loads(files(package).joinpath(name).read_text("utf-8"))
        assert files(package).joinpath(data["weights_file"]).is_file(), name
    assert len(TaskModel.shipped().weights) > 10_000

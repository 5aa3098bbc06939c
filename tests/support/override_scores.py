"""Override detection scored on a labelled set (the tests/data/overrides*.jsonl shape).

Precision and recall count a prompt as a directive when it names a model of the catalog
(unknown models and revocations are scored apart); a hit must name the labelled model.
The cut is scored too: the prompt left after the directive must equal the label's
``cleaned`` text (whitespace at the ends aside).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cortexd.routing.overrides.detector import Override, OverrideDetector, UnknownModel


@dataclass
class Scores:
    """Counts over one set; `misses` and `false_alarms` keep the prompts for reading."""

    directives: int = 0
    said: int = 0
    right: int = 0
    cut_right: int = 0
    scope_right: int = 0
    unknown: int = 0
    unknown_found: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    bad_cuts: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.right / self.said if self.said else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.directives if self.directives else 1.0

    def line(self, name: str) -> str:
        """One line of figures for a report."""
        return (
            f"{name}: recall {self.recall:.1%} ({self.right}/{self.directives}), precision "
            f"{self.precision:.1%} ({self.right}/{self.said}), cut exact "
            f"{self.cut_right}/{self.right}, scope {self.scope_right}/{self.right}, unknown "
            f"models {self.unknown_found}/{self.unknown}"
        )


def score(detector: OverrideDetector, rows: list[dict[str, object]]) -> Scores:
    """Score `detector` on labelled rows (the tests/data/overrides*.jsonl shape)."""
    s = Scores()
    for row in rows:
        prompt, model = str(row["prompt"]), row.get("model")
        scope = row.get("scope") or ("turn" if model else None)
        found = detector.read(prompt)
        if row.get("unknown"):
            s.unknown += 1
            s.unknown_found += isinstance(found, UnknownModel)
        if model and scope != "revoke":
            s.directives += 1
        if isinstance(found, Override):
            s.said += 1
            if found.model == model:
                s.right += 1
                s.scope_right += found.scope == scope
                cleaned = str(row.get("cleaned") or prompt).strip()
                if found.text.strip() == cleaned:
                    s.cut_right += 1
                else:
                    s.bad_cuts.append((prompt, found.text, cleaned))
            else:
                s.false_alarms.append(f"{prompt!r} → {found.model} ({found.phrase!r})")
        elif model and scope != "revoke":
            s.misses.append(f"{prompt!r} (want {model})")
    return s


def load(path: Path) -> list[dict[str, object]]:
    """The rows of a JSONL file."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]

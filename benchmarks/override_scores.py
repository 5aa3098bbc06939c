"""Score override detection on labelled sets: `uv run python -m benchmarks.override_scores FILE…`.

Prints recall, precision, exact cuts, scopes and unknown models per file (the scoring is
tests/support/override_scores.py, shared with the tests); `--show` lists the misses, the
false alarms and the cuts that differ from the label.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.override_scores import load, score  # noqa: E402

from cortexd.routing.catalog import build_catalog  # noqa: E402
from cortexd.routing.overrides.detector import OverrideDetector  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true", help="print misses and false alarms")
    args = parser.parse_args()
    detector = OverrideDetector(build_catalog())
    for path in args.files:
        s = score(detector, load(path))
        print(s.line(path.name))
        if args.show:
            for text in s.false_alarms:
                print("  FALSE", text)
            for text in s.misses:
                print("  MISS ", text)
            for prompt, got, want in s.bad_cuts[:40]:
                print(f"  CUT   {prompt!r}\n        got  {got!r}\n        want {want!r}")


if __name__ == "__main__":
    main()

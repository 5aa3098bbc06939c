"""Type-check cortexd: `uv run python scripts/typecheck.py` (mypy strict, from pyproject.toml).

The card keeps routing/, hardware/, service/ and context/ at the repository root, installed
as cortexd.routing, cortexd.hardware, … (setuptools' package-dir). The links
cortexd/routing → ../routing (and the three others) are committed, so mypy, Pyright and an
editor's go-to-definition find `cortexd.routing` in a plain checkout with nothing generated;
this script only checks the links are there and runs mypy on the package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINKED = ("routing", "hardware", "service", "context")


def main() -> int:
    for folder in LINKED:
        link = ROOT / "cortexd" / folder
        if not link.is_symlink() or link.resolve() != (ROOT / folder).resolve():
            print(f"cortexd/{folder} should be a link to ../{folder}", file=sys.stderr)
            return 2
    command = [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "cortexd"]
    return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())

"""Type-check cortexd as it installs: `uv run python scripts/typecheck.py`.

The card keeps routing/, hardware/ and service/ at the repository root, installed as
cortexd.routing, cortexd.hardware and cortexd.service (setuptools package-dir). mypy cannot
read that mapping, so this builds the installed layout as a tree of symlinks under
build/typecheck/ and runs mypy (strict, from pyproject.toml) on it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_tree() -> Path:
    """The installed package layout as symlinks; returns the folder holding `cortexd/`."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    out = ROOT / "build" / "typecheck"
    shutil.rmtree(out, ignore_errors=True)
    for package, folder in mapping.items():
        target = out.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for source in (ROOT / folder).glob("*.py"):
            (target / source.name).symlink_to(source)
        for sub in (ROOT / folder).iterdir():
            if sub.is_dir() and (sub / "__init__.py").exists():
                (target / sub.name).symlink_to(sub, target_is_directory=True)
    return out


def main() -> int:
    out = build_tree()
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        str(out / "cortexd"),
    ]
    return subprocess.call(command, cwd=out)


if __name__ == "__main__":
    sys.exit(main())

"""Rewriting the user's file: through its symlink, keeping its mode, never over a newer save."""

from __future__ import annotations

from pathlib import Path

import pytest

from cortexd.context.atomic import FileChangedError, rewrite


def test_a_symlinked_file_is_rewritten_at_its_target_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "model-routing.md"
    target.parent.mkdir()
    target.write_bytes(b"old\r\n")
    target.chmod(0o600)
    link = tmp_path / "model-routing.md"
    link.symlink_to(target)
    rewrite(link, "new\r\n", was=b"old\r\n")
    assert link.is_symlink() and target.read_bytes() == b"new\r\n"
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_file_saved_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "model-routing.md"
    path.write_text("the user's newer save\n")
    with pytest.raises(FileChangedError, match="changed while the edit was prepared"):
        rewrite(path, "our edit\n", was=b"what we read\n")
    assert path.read_text() == "the user's newer save\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model-routing.md"]  # no temp left

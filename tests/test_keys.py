"""API keys: environment, systemd credentials, a key file only its owner may read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cortexd.context.keys import KeyFileError, read_keys

KEY = "sk-ant-test-canary-0123456789abcdefghij"


def key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "keys.env"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_private_key_file(tmp_path: Path) -> None:
    path = key_file(tmp_path, f"# mine\nexport ANTHROPIC_API_KEY='{KEY}'\nOPENAI_API_KEY=sk-o\n")
    keys = read_keys({}, path)
    assert keys.values == {"anthropic": KEY, "openai": "sk-o"}
    assert keys.sources["anthropic"].startswith("key file") and keys.missing() == []
    assert KEY not in repr(keys)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, f"ANTHROPIC_API_KEY={KEY}\n", mode)
    with pytest.raises(KeyFileError, match="chmod 600") as caught:
        read_keys({}, path)
    assert KEY not in str(caught.value)


def test_credentials_then_environment_win_over_the_file(tmp_path: Path) -> None:
    path = key_file(tmp_path, "ANTHROPIC_API_KEY=from-file\nOPENAI_API_KEY=from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "anthropic").write_text("from-credentials\n")
    (creds / "OPENAI_API_KEY").write_text("from-credentials\n")
    keys = read_keys({"OPENAI_API_KEY": "from-env"}, path, creds)
    assert keys.values == {"anthropic": "from-credentials", "openai": "from-env"}
    assert keys.sources == {
        "anthropic": "systemd credentials",
        "openai": "environment (OPENAI_API_KEY)",
    }


def test_no_keys_anywhere(tmp_path: Path) -> None:
    keys = read_keys({"ANTHROPIC_API_KEY": "  "}, tmp_path / "absent.env")
    assert keys.values == {} and keys.missing() == ["anthropic", "openai"]


def test_a_key_file_the_user_named_must_exist(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        read_keys({}, tmp_path / "typo.env", required=True)


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    target = key_file(tmp_path, f"ANTHROPIC_API_KEY={KEY}\n")
    link = tmp_path / "link.env"
    link.symlink_to(target)
    with pytest.raises(KeyFileError, match="cannot open"):
        read_keys({}, link)


def test_a_key_file_credential_is_read_and_a_single_key_credential_wins(tmp_path: Path) -> None:
    # What `cortex service install` writes: LoadCredential=keys.env:<the key file>.
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "keys.env").write_text(f"# mine\nANTHROPIC_API_KEY={KEY}\nOPENAI_API_KEY=sk-bundle\n")
    (creds / "openai").write_text("sk-single\n")
    keys = read_keys({}, tmp_path / "absent.env", creds)
    assert keys.values == {"anthropic": KEY, "openai": "sk-single"}
    assert keys.sources == {
        "anthropic": "systemd credential keys.env",
        "openai": "systemd credentials",
    }
    assert KEY not in repr(keys)


def test_the_key_file_credential_wins_over_the_key_file(tmp_path: Path) -> None:
    path = key_file(tmp_path, "ANTHROPIC_API_KEY=from-file\nOPENAI_API_KEY=from-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "keys.env").write_text("ANTHROPIC_API_KEY=from-credential\n")
    keys = read_keys({}, path, creds)
    assert keys.values == {"anthropic": "from-credential", "openai": "from-file"}

"""API keys: from the environment, systemd credentials, or a key file only its owner can read.

Keys live in a `Keys` object whose repr shows which providers have one and where it came
from, never the values; nothing else in cortexd holds them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cortexd.context.environment import KEY_VARIABLES
from cortexd.errors import CortexError

#: The systemd credential that holds a whole key file (``LoadCredential=keys.env:…``).
KEY_FILE_CREDENTIAL = "keys.env"


class KeyFileError(CortexError):
    """A key file that must not be used (readable by others, not ours, unreadable)."""


@dataclass(frozen=True)
class Keys:
    """Each provider's key (hidden from repr) and where it came from."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    sources: Mapping[str, str] = field(default_factory=dict)

    def missing(self) -> list[str]:
        """The providers without a key."""
        return [p for p in KEY_VARIABLES if p not in self.values]


def _read_private(path: Path) -> str:
    """The file's text, if only its owner (us) can read it; checked on the open descriptor,
    so the file cannot be swapped between the check and the read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"the key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot open the key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.getuid():
            raise KeyFileError(
                f"{path} belongs to another user: cortexd reads only its own key file"
            )
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            shown = oct(mode)[2:]
            raise KeyFileError(
                f"{path} is readable by group or others (mode {shown}); run: chmod 600 {path}"
            )
        try:
            return handle.read(1024 * 1024).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"cannot read {path}: {exc}") from None


def parse_key_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines (``export`` and quotes allowed, ``#`` comments) of known key names.

    >>> parse_key_file('# mine\\nexport OPENAI_API_KEY="sk-x"\\nOTHER=1\\n')
    {'openai': 'sk-x'}
    """
    by_variable = {v: p for p, v in KEY_VARIABLES.items()}
    keys: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip().strip("'\"")
        provider = by_variable.get(name.strip())
        if provider and value:
            keys[provider] = value
    return keys


def read_keys(
    env: Mapping[str, str],
    key_file: Path | None = None,
    credentials_dir: Path | None = None,
    *,
    required: bool = False,
) -> Keys:
    """Keys by precedence: the environment, then systemd credentials, then the key file.

    Credentials are files named after the provider (``anthropic``), the variable
    (``ANTHROPIC_API_KEY``) or its lower-case form, as ``LoadCredential=`` names them; a
    credential named ``keys.env`` is a whole key file (what ``cortex service install``
    passes), and a single-key credential wins over it.
    `required`: the key file was named by the user, so a missing one is an error.
    """
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    if key_file is not None and (required or key_file.exists()):
        found = parse_key_file(_read_private(key_file))
        values.update(found)
        sources.update({p: f"key file {key_file}" for p in found})
    if credentials_dir is not None and (credentials_dir / KEY_FILE_CREDENTIAL).is_file():
        # systemd made this copy readable by this service alone: no mode check to do.
        path = credentials_dir / KEY_FILE_CREDENTIAL
        try:
            found = parse_key_file(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"cannot read the credential {path}: {exc}") from None
        values.update(found)
        sources.update({p: f"systemd credential {KEY_FILE_CREDENTIAL}" for p in found})
    if credentials_dir is not None:
        for provider, variable in KEY_VARIABLES.items():
            for name in (provider, variable, variable.lower()):
                path = credentials_dir / name
                if path.is_file():
                    try:
                        value = path.read_text(encoding="utf-8").strip()
                    except (OSError, UnicodeDecodeError) as exc:
                        raise KeyFileError(f"cannot read the credential {path}: {exc}") from None
                    if value:
                        values[provider], sources[provider] = value, "systemd credentials"
                    break
    for provider, variable in KEY_VARIABLES.items():
        value = env.get(variable, "").strip()
        if value:
            values[provider], sources[provider] = value, f"environment ({variable})"
    return Keys(values, sources)

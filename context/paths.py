"""Where cortexd keeps its files: context (human-facing), state, and runtime.

By default the platform's folders (platformdirs); with ``CORTEX_HOME`` everything lives
under that one folder, for tests, a second instance or a portable setup.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import platformdirs

from cortexd.context.environment import Environment

ROUTING_FILE_NAME = "model-routing.md"

#: What cortexd writes holds the user's prompts, notes and spend: only the user may read it,
#: whatever umask the daemon was started with (a shell's 022 makes files world-readable).
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
#: The daemon's umask, so that what a library creates for it (SQLite's files) is private too.
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class Paths:
    """The folders and files cortexd uses."""

    context_dir: Path  # model-routing.md, model-performance.md, inbox/, captured/
    state_dir: Path  # the SQLite database
    runtime_dir: Path  # the socket and the lock file
    routing_file: Path
    socket: Path
    key_file: Path  # API keys, NAME=value lines, mode 0600 (optional)

    @classmethod
    def resolve(cls, env: Environment) -> Paths:
        """The paths for this environment (nothing is created)."""
        if env.home is not None:
            context, state, runtime = env.home / "context", env.home / "state", env.home / "run"
            config = env.home / "config"
        else:
            app = "cortex"
            context = Path(platformdirs.user_data_dir(app, appauthor=False))
            config = Path(platformdirs.user_config_dir(app, appauthor=False))
            state = Path(platformdirs.user_state_dir(app, appauthor=False))
            with warnings.catch_warnings():
                # Without XDG_RUNTIME_DIR (cron, ssh without a session) platformdirs warns and
                # falls back to /tmp/runtime-$UID, a private folder: good enough for a socket.
                warnings.simplefilter("ignore")
                runtime = Path(platformdirs.user_runtime_dir(app, appauthor=False))
        return cls(
            context_dir=context,
            state_dir=state,
            runtime_dir=runtime,
            routing_file=env.routing_file or context / ROUTING_FILE_NAME,
            socket=env.socket or runtime / "cortexd.sock",
            key_file=env.key_file or config / "keys.env",
        )


def default_routing_text() -> str:
    """The routing file shipped with cortexd (the user's seed, verbatim)."""
    return files("cortexd.context").joinpath(ROUTING_FILE_NAME).read_text(encoding="utf-8")


def private_folder(path: Path) -> Path:
    """Create `path` and its missing parents as 0700 folders, whatever the umask; a folder
    that exists already is the user's and is left as it is (it may be a link to a synced
    folder, or shared on purpose). Returns `path`."""
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(PRIVATE_FOLDER)
        except FileExistsError:
            continue  # made meanwhile, by someone else: theirs
        os.chmod(folder, PRIVATE_FOLDER)  # mkdir's mode passes through the umask
    return path


def install_default_routing_file(target: Path) -> bool:
    """Copy the shipped routing file to `target` (0600) unless a file is already there.

    Returns True when it was created. The user's own file is never overwritten.
    """
    if target.exists():
        return False
    private_folder(target.parent)
    with as_file(files("cortexd.context").joinpath(ROUTING_FILE_NAME)) as source:
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        os.chmod(tmp, PRIVATE_FILE)
        tmp.replace(target)
    return True

"""File operations that names and symbolic links cannot lead outside cortexd's folders.

Every operation is relative to an open folder (``dir_fd``) and names one entry in it: a
name is never joined into a path, so ``..`` or ``/`` in it cannot escape. Folders below the
top ones are opened with ``O_NOFOLLOW`` and files with ``O_NOFOLLOW``: a link planted there
is refused, never followed. The top folders (``inbox/``, ``captured/``) may be links the
user made on purpose (to a synced folder, say); they are opened as any path is.

Blocking calls: run them in a thread off the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType

from cortexd.capture._errors import RefusedError, TooLargeError, UnsafeFolderError
from cortexd.context.paths import PRIVATE_FILE, PRIVATE_FOLDER, private_folder

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW_DIR = _DIR_FLAGS | os.O_NOFOLLOW


class Folder:
    """An open folder; a context manager that closes it."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path  # for messages and the paths reported to the user

    @classmethod
    def top(cls, path: Path) -> Folder:
        """Open (creating it and its parents, 0700) one of cortexd's own folders."""
        private_folder(path)
        try:
            return cls(os.open(path, _DIR_FLAGS), path)
        except NotADirectoryError:
            raise UnsafeFolderError(f"{path} is not a folder; move it away") from None

    def sub(self, name: str, *, create: bool = True, mode: int = PRIVATE_FOLDER) -> Folder:
        """The folder `name` inside this one (created when missing, 0700 unless told: the
        umask only takes bits away); a link is refused."""
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, mode, dir_fd=self.fd)
        try:
            fd = os.open(name, _NOFOLLOW_DIR, dir_fd=self.fd)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise UnsafeFolderError(
                    f"{self.path / name} is a symbolic link or not a folder; cortexd does not "
                    "follow links inside its folders: remove it"
                ) from None
            raise
        return Folder(fd, self.path / name)

    def names(self) -> list[str]:
        """The names of the entries in this folder."""
        return os.listdir(self.fd)

    def lstat(self, name: str) -> os.stat_result | None:
        """The entry's own status (a link's, not its target's); None when it is gone."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        """Whether an entry (of any kind, a dangling link included) has this name."""
        return self.lstat(name) is not None

    def remove(self, name: str) -> None:
        """Remove a file or link; no error when it is already gone."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def remove_folder(self, name: str) -> None:
        """Remove an empty folder; no error when it is already gone."""
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(name, dir_fd=self.fd)

    def sync(self) -> None:
        """fsync the folder, so that renames and new names in it survive a crash."""
        os.fsync(self.fd)

    def close(self) -> None:
        """Close the folder."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Folder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_regular(folder: Folder, name: str, limit: int, *, one_name: bool = True) -> bytes:
    """The bytes of the regular file `name`: a link, anything but a regular file, a file
    with other names (a hard link; unless `one_name` is False), or one over `limit` bytes
    is refused."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO never blocks
    try:
        fd = os.open(name, flags, dir_fd=folder.fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):
            raise RefusedError("symbolic link refused: cortexd never follows links") from None
        raise RefusedError(f"cannot be read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RefusedError("not a regular file")
        if one_name and info.st_nlink > 1:
            # Another name of this file may be anywhere, e.g. a key file: refused like a link.
            raise RefusedError("hard link refused: the file has other names outside the inbox")
        if info.st_size > limit:
            raise TooLargeError(f"too large: {info.st_size} bytes, the limit is {limit}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLargeError(f"too large: over the {limit} byte limit")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_temp(folder: Folder, name: str, data: bytes, mode: int) -> str:
    temp = f".{name[:100]}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, mode, dir_fd=folder.fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        folder.remove(temp)
        raise
    os.close(fd)
    return temp


def write_new(folder: Folder, name: str, data: bytes, mode: int = PRIVATE_FILE) -> bool:
    """Write a new file `name` whole (temp, fsync, link, fsync the folder); False, and
    nothing written, when `name` exists already: another file is never replaced."""
    temp = _write_temp(folder, name, data, mode)
    try:
        os.link(temp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd, follow_symlinks=False)
    except FileExistsError:
        return False
    finally:
        folder.remove(temp)
    folder.sync()
    return True


def write_replacing(folder: Folder, name: str, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write `name` whole (temp, fsync, rename over it, fsync the folder)."""
    temp = _write_temp(folder, name, data, mode)
    try:
        os.rename(temp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
    except BaseException:
        folder.remove(temp)
        raise
    folder.sync()


def move_new(source: Folder, name: str, target: Folder, new_name: str) -> bool:
    """Move the entry `name` (a file, or a link itself) to `target` as `new_name`; False,
    and nothing moved, when `new_name` exists there already."""
    try:
        # A hard link is the portable "rename unless the name is taken"; then the old name goes.
        os.link(name, new_name, src_dir_fd=source.fd, dst_dir_fd=target.fd, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        # Another file system, or one without hard links: check, then rename.
        if target.exists(new_name):
            return False
        os.rename(name, new_name, src_dir_fd=source.fd, dst_dir_fd=target.fd)
    else:
        os.unlink(name, dir_fd=source.fd)
    target.sync()
    source.sync()
    return True

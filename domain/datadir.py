"""The data directory holds the keys, the embedded database and Redis: it is readable by the account
that runs orderhub and nobody else, and so is every file in it, from the moment each is created
(a chmod afterwards leaves a window in which another local user could open the file)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, narrow: bool = False) -> Path:
    """Creates the directory (and missing parents) as 0700. `narrow`: an existing one becomes 0700
    too (the data directory itself; not the directory a configured SQLite path happens to be in)."""
    with private_umask():
        path.mkdir(parents=True, exist_ok=True)
    if narrow:
        path.chmod(DIR_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Creates an empty 0600 file unless it exists; SQLite gives its -wal and -shm files the database's mode.

    An existing file is never opened: closing a descriptor drops every POSIX lock this process holds on the
    file, and SQLite keeps its locks there (a second engine on an open database broke the first's locks)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))


def write_private_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    path.chmod(FILE_MODE)  # a file that existed before keeps its mode through os.open


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """For what creates files we cannot open ourselves (a child process such as redis-server inherits
    the umask). The umask is per process: anything created meanwhile is only made more private."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)

"""Faults of the disk under a store, put on a running app from outside.

Each fault has a real form and a fallback for machines where the test may not mount a
filesystem (CI in an unprivileged container), so that a fault test never skips:

- a full disk: a small tmpfs, filled by a file of the test's (freed by deleting that file); or,
  without mount, the app's file-size limit (RLIMIT_FSIZE, set from outside with prlimit) at 0,
  so that the kernel refuses the app every write to a file (EFBIG; the app ignores SIGXFSZ).
- a store made read-only: on a small loop-mounted ext4, `chattr +i` on the store's files and
  folder, which ext4 enforces on handles already open (EPERM). `mount -o remount,ro` cannot do
  it: Linux refuses to remount read-only while the app holds the store open for writing, and a
  chmod binds only later opens. Without mount, the file-size limit at 0 refuses writes the same way.
"""

from __future__ import annotations

import errno
import resource
import subprocess
from pathlib import Path

from tests.faults._apps import App

__all__ = ["Disk", "full_disk", "read_only_disk"]


def _run(*command: str) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=60)
    except OSError:  # the tool is not installed
        return False
    return done.returncode == 0


class Disk:
    """A folder for the store, and a fault to put on (`fault`) and take off (`mend`) the app's writes to it."""

    how = "file-size-limit"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def fault(self, app: App) -> None:
        _, hard = resource.prlimit(app.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(app.pid, resource.RLIMIT_FSIZE, (0, hard))

    def mend(self, app: App) -> None:
        _, hard = resource.prlimit(app.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(app.pid, resource.RLIMIT_FSIZE, (hard, hard))

    def close(self) -> None:
        pass


class SmallFilesystem(Disk):
    """A 16 MB tmpfs; `fault` fills what is left of it with a file, `mend` deletes that file."""

    how = "small-filesystem"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.filler = folder / "filler"

    def fault(self, app: App) -> None:
        # Unbuffered: what the disk refused must not come back on close.
        with open(self.filler, "wb", buffering=0) as out:
            for size in (1 << 16, 1 << 12, 1):  # to the last byte: a full disk is full
                try:
                    while True:
                        out.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    def mend(self, app: App) -> None:
        self.filler.unlink()

    def close(self) -> None:
        _run("umount", "-l", str(self.folder))


class ImmutableFiles(Disk):
    """A loop-mounted ext4; `fault` makes the store's files and folder immutable, `mend` undoes it."""

    how = "immutable-files"

    def __init__(self, folder: Path, mount_point: Path) -> None:
        super().__init__(folder)
        self.mount_point = mount_point

    def _targets(self) -> list[str]:
        # Not the -shm file: SQLite writes it through a shared mapping, and a write fault there is
        # SIGBUS, not an error. It is an index of the log in memory, no part of the stored data.
        return [str(self.folder), *(str(p) for p in self.folder.glob("casebank.db*") if not p.name.endswith("-shm"))]

    def fault(self, app: App) -> None:
        assert _run("chattr", "+i", *self._targets())

    def mend(self, app: App) -> None:
        assert _run("chattr", "-i", *self._targets())

    def close(self) -> None:
        _run("chattr", "-i", *self._targets())
        _run("umount", "-l", str(self.mount_point))


def full_disk(tmp_path: Path, how: str) -> Disk:
    """A small filesystem when `how` asks for one and the machine lets the test mount it, else the file-size limit."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if how == SmallFilesystem.how and _run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)):
        return SmallFilesystem(folder)
    return Disk(folder)


def read_only_disk(tmp_path: Path, how: str) -> Disk:
    """Immutable files on a loop-mounted ext4 when `how` asks for it and the machine allows, else
    the file-size limit."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if how == ImmutableFiles.how:
        image = tmp_path / "disk.img"
        with open(image, "wb") as out:
            out.truncate(32 * 1024 * 1024)
        if _run("mkfs.ext4", "-q", "-F", str(image)) and _run("mount", "-o", "loop", str(image), str(folder)):
            inner = folder / "store"  # the root of a filesystem holds lost+found: the store gets a folder of its own
            return ImmutableFiles(inner, folder)
    return Disk(folder)

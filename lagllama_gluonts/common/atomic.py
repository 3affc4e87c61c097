"""Writes that never leave a broken file: every file and folder the package writes goes through here.

A file written in place is half-written while the writer runs: a process killed then (Ctrl-C
twice, SIGKILL, a scheduler's time limit) or a full disk leaves a truncated file where the
previous good one was, or a 0-byte checkpoint that no longer loads. Here the writer fills a
temporary file (or folder) beside the target, in the same folder so that the final rename
stays on one file system and is atomic; only once the writer has finished is it flushed to
disk and renamed over the target. On any exception, ``KeyboardInterrupt`` included, the
temporary is removed and the target is left as it was. A SIGKILL cannot be cleaned up after:
it leaves a hidden ``.NAME.*.tmp`` beside the target, never a partial target.

A leaf: it imports nothing of the package.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


def _umask() -> int:
    # the only portable way to read the umask is to set it; set it straight back
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode(target: Path, default: int) -> int:
    """The permission bits the written target gets: the ones it had, else the usual ones for a
    new file or folder (mkstemp and mkdtemp make theirs private to the owner)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return default & ~_umask()


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk; best effort where the platform
    cannot (Windows opens no folders)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _target(target: PathLike) -> Path:
    """The path to replace: a symbolic link's destination, so that the link itself survives
    (as it did when files were written in place)."""
    path = Path(target)
    return path.resolve() if path.is_symlink() else path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """A temporary path beside ``target`` (an empty file, same suffix, so writers that read the
    format from the name still do) to write instead; renamed over ``target`` when the block
    ends without an exception, removed when it raises. A body that deletes the temporary
    file writes nothing: the target is left as it was."""
    target = _target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        if temp.exists():
            os.chmod(temp, _mode(target, 0o666))
            _fsync(temp)
            os.replace(temp, target)
            _fsync(target.parent)  # the rename itself survives a power cut
    except BaseException:
        _remove(temp)
        raise


@contextmanager
def atomic_dir(target: PathLike) -> Iterator[Path]:
    """A temporary empty folder beside ``target`` to fill instead; put in place of ``target``
    when the block ends without an exception (an old ``target`` folder is replaced only then),
    removed when it raises. Two folders cannot swap in one step: the old one is first renamed
    aside, so an interruption between the two renames leaves no ``target`` (never a partial
    one) and the old folder as a hidden ``.NAME.*.old`` beside it."""
    target = _target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield temp
        os.chmod(temp, _mode(target, 0o777))
        for folder, _, files in os.walk(temp):
            for file in files:
                _fsync(Path(folder) / file)
            _fsync(Path(folder))
        _swap_in(temp, target)
    except BaseException:
        _remove(temp)
        raise


def _swap_in(temp: Path, target: Path) -> None:
    """Rename the complete folder ``temp`` to ``target``, replacing a folder there."""
    if not target.exists():
        os.replace(temp, target)
        _fsync(target.parent)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()  # a free, unguessable name: Windows renames onto no existing folder
    os.replace(target, old)
    try:
        os.replace(temp, target)
    except BaseException:
        os.replace(old, target)  # the new folder did not go in: the old one goes back
        raise
    _fsync(target.parent)
    shutil.rmtree(old, ignore_errors=True)

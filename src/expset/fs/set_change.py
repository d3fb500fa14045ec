"""The one way an existing set changes shape (``extend`` adds runs, ``remove`` takes them out): all of it,
or none of it, whatever stops the process.

A change is first written whole beside the set, in a hidden folder (by ``write_tree``, atomic itself).
Until then the set is untouched: a process killed meanwhile leaves the set exactly as it was, and the
next change of the set clears what it left. The change is committed by one rename, which puts that
folder inside the set as ``.expset-pending``; from then on it is carried out to the end — by the process
itself, or, when that process died, by the next expset command that reads the set. Carrying it out
moves new folders into place, moves removed run folders into the pending folder, replaces the set's
top-level files (``expset.yaml`` last), then deletes the pending folder. Each step can be repeated, so
finishing twice is harmless; and since every reader takes the set's runs from ``expset.yaml``, a reader
sees the set before the change or after it, never half of it.

Changes of one set are serialised by an exclusive ``flock`` on the set folder itself.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from expset.errors import WriteError

PENDING = ".expset-pending"
"""A committed change inside the set, not yet carried out to the end."""
_TREE = "tree"
_CHANGE = "change.json"
_TRASH = "removed"
LAST_REPLACED = "expset.yaml"
"""Replaced after every other file: the set's record, from which every reader takes the set's runs."""


def staging_for(set_dir: Path) -> Path:
    """Where a change of ``set_dir`` is written before its commit: a hidden sibling of the set."""
    return set_dir.parent / f".{set_dir.name}.expset-change"


@contextmanager
def locked(set_dir: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the set's change lock; yields False (without waiting) when ``wait`` is off and another holds it."""
    import fcntl

    handle = os.open(set_dir, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError:  # no flock on this file system: nothing to serialise with
            pass
        yield True
    finally:
        os.close(handle)


def change_set(
    set_dir: Path,
    directories: Iterable[str],
    files: Iterable[tuple[str, str]],
    *,
    remove_runs: Iterable[str] = (),
) -> None:
    """Add ``directories`` and ``files`` (relative to the set; files at the top replace the set's) and remove
    the run folders ``remove_runs``, as one change. A file below the top that the set already has is kept."""
    directories, files, remove_runs = list(directories), list(files), list(remove_runs)
    with locked(set_dir):
        _carry_out(set_dir)  # a committed change whose process died: before this one
        stage = staging_for(set_dir)
        if os.path.lexists(stage):  # left by a change that died before its commit: the lock says none is alive
            shutil.rmtree(stage, ignore_errors=True)
        from expset.fs.writer import write_tree

        tree_directories = [_TREE, *(f"{_TREE}/{directory}" for directory in directories)]
        tree_files = [(f"{_TREE}/{path}", text) for path, text in files]
        change = json.dumps({"remove": remove_runs}) + "\n"
        write_tree(stage, tree_directories, [(_CHANGE, change), *tree_files])
        try:
            os.rename(stage, set_dir / PENDING)
        except OSError as error:
            shutil.rmtree(stage, ignore_errors=True)
            raise WriteError(f"cannot change {set_dir}: {error.strerror}", hint="nothing was changed") from None
        _carry_out(set_dir)


def finish_change(set_dir: Path) -> bool:
    """Carry out a change that was committed but not finished (its process died); True if there was one.

    Quietly does nothing where the set cannot be written (another user's set, read-only): every
    reader sees the set as it was before the change, which is whole."""
    if not os.path.lexists(set_dir / PENDING):
        return False
    try:
        with locked(set_dir, wait=False) as held:
            if not held:
                return False  # the process making the change is alive and finishing it
            _carry_out(set_dir)
    except OSError:
        return False
    return True


def _carry_out(set_dir: Path) -> None:
    pending = set_dir / PENDING
    if not pending.is_dir():
        return
    try:
        change = json.loads((pending / _CHANGE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        change = {}
    trash = pending / _TRASH
    for run in change.get("remove", []):
        if os.path.isdir(set_dir / run) and not os.path.islink(set_dir / run):
            trash.mkdir(exist_ok=True)
            with suppress(FileNotFoundError):  # where flock does not work, another process may finish it too
                os.rename(set_dir / run, trash / run)
    tree = pending / _TREE
    if tree.is_dir():
        _move_missing(tree, set_dir)
        top_files = sorted(entry.name for entry in os.scandir(tree) if entry.is_file(follow_symlinks=False))
        for name in sorted(top_files, key=lambda name: name == LAST_REPLACED):
            with suppress(FileNotFoundError):
                os.replace(tree / name, set_dir / name)
    shutil.rmtree(pending, ignore_errors=True)


def _move_missing(source: Path, target: Path, *, top: bool = True) -> None:
    """Move each folder and file of ``source`` that ``target`` lacks into it; go into folders both have.
    Files at the top are left for the caller, which replaces them."""
    for entry in sorted(os.scandir(source), key=lambda entry: entry.name):
        there = target / entry.name
        if entry.is_file(follow_symlinks=False) and top:
            continue
        if not os.path.lexists(there):
            with suppress(FileNotFoundError):  # another process finishing the same change moved it first
                os.rename(entry.path, there)
        elif entry.is_dir(follow_symlinks=False) and there.is_dir() and not there.is_symlink():
            _move_missing(Path(entry.path), there, top=False)

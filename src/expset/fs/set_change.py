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

Every change is made under the set's lock (``fs.set_lock``), and a reader finishes a committed change
only when it can take that lock: never beside the live process making it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from expset.errors import BusyError, WriteError

PENDING = ".expset-pending"
"""A committed change inside the set, not yet carried out to the end."""
UNDELETED = ".expset-undeleted-"
"""Where the files of removed runs that could not be deleted are left, inside the set, named."""
_TREE = "tree"
_CHANGE = "change.json"
_TRASH = "removed"
LAST_REPLACED = "expset.yaml"
"""Replaced after every other file: the set's record, from which every reader takes the set's runs."""


def staging_for(set_dir: Path) -> Path:
    """Where a change of ``set_dir`` is written before its commit: a hidden sibling of the set's real folder
    (a set reached through a link is changed where it is)."""
    real = Path(os.path.realpath(set_dir))
    return real.parent / f".{real.name}.expset-change"


def change_set(
    set_dir: Path,
    directories: Iterable[str],
    files: Iterable[tuple[str, str]],
    *,
    remove_runs: Iterable[str] = (),
    expected_record: bytes | None = None,
) -> Path | None:
    """Add ``directories`` and ``files`` (relative to the set; files at the top replace the set's) and remove
    the run folders ``remove_runs``, as one change; a file below the top that the set already has is kept.
    The caller holds the set's lock. With ``expected_record``, refuse (``BusyError``) when ``expset.yaml``
    is no longer those bytes: the set changed since the change was planned. Returns the folder holding what
    could not be deleted, if anything."""
    directories, files, remove_runs = list(directories), list(files), list(remove_runs)
    _finish(set_dir)  # a committed change whose process died comes first
    if expected_record is not None and _record(set_dir) != expected_record:
        raise BusyError(
            f"{set_dir} changed since this command read it (another extend or remove); nothing was written",
            hint="run the command again: it starts from the set as it is now",
        )
    stage = staging_for(set_dir)
    if os.path.lexists(stage):  # left by a change that died before its commit: the lock says none is alive
        shutil.rmtree(stage, ignore_errors=True)
    from expset.fs.writer import write_tree

    tree_directories = [_TREE, *(f"{_TREE}/{directory}" for directory in directories)]
    tree_files = [(f"{_TREE}/{path}", text) for path, text in files]
    change = json.dumps({"remove": remove_runs}) + "\n"
    write_tree(stage, tree_directories, [(_CHANGE, change), *tree_files])
    try:
        os.rename(stage, Path(os.path.realpath(set_dir)) / PENDING)
    except OSError as error:
        shutil.rmtree(stage, ignore_errors=True)
        raise WriteError(f"cannot change {set_dir}: {error.strerror}", hint="nothing was changed") from None
    return _finish(set_dir)


def finish_change(set_dir: Path) -> bool:
    """Carry out a change that was committed but not finished (its process died); True if there was one.

    Done only under the set's lock, taken without waiting: while the process making the change lives, or
    where the file system cannot lock, the set is read as it was before the change, which is whole. Where
    the set cannot be written (another user's set), likewise."""
    if not os.path.lexists(set_dir / PENDING):
        return False
    from expset.fs.set_lock import lock_if_free

    with lock_if_free(set_dir) as held:
        if not held:
            return False
        try:
            _finish(set_dir)
        except WriteError as error:
            if isinstance(error.__cause__, PermissionError):
                return False
            raise
    return True


def finish_locked(set_dir: Path) -> Path | None:
    """``finish_change`` for a caller that holds the set's lock."""
    return _finish(set_dir)


def _finish(set_dir: Path) -> Path | None:
    """Carry out the committed change, if there is one; a ``WriteError`` naming the pending folder when a
    step fails, so that the set is never left half-changed without a word."""
    pending = set_dir / PENDING
    if not pending.is_dir():
        return None
    try:
        return _carry_out(set_dir, pending)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise WriteError(
            f"{set_dir}: a change was committed but could not be finished: {error.strerror}{where}",
            hint=f"fix that, then run any expset command on the set: it finishes the change kept in {PENDING}",
        ) from error


def _carry_out(set_dir: Path, pending: Path) -> Path | None:
    try:
        change = json.loads((pending / _CHANGE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        change = {}
    trash = pending / _TRASH
    for run in change.get("remove", []):
        if os.path.isdir(set_dir / run) and not os.path.islink(set_dir / run):
            trash.mkdir(exist_ok=True)
            with suppress(FileNotFoundError):
                os.rename(set_dir / run, trash / run)
    tree = pending / _TREE
    if tree.is_dir():
        _move_missing(tree, set_dir)
        top_files = sorted(entry.name for entry in os.scandir(tree) if entry.is_file(follow_symlinks=False))
        for name in sorted(top_files, key=lambda name: name == LAST_REPLACED):
            with suppress(FileNotFoundError):
                os.replace(tree / name, set_dir / name)
    shutil.rmtree(pending, ignore_errors=True)
    if not os.path.lexists(pending):
        return None
    leftover = set_dir / f"{UNDELETED}{secrets.token_hex(4)}"  # so that the next change can commit
    os.rename(pending, leftover)
    return leftover


def _record(set_dir: Path) -> bytes | None:
    try:
        return (set_dir / LAST_REPLACED).read_bytes()
    except OSError:
        return None


def _move_missing(source: Path, target: Path, *, top: bool = True) -> None:
    """Move each folder and file of ``source`` that ``target`` lacks into it; go into folders both have.
    Files at the top are left for the caller, which replaces them."""
    for entry in sorted(os.scandir(source), key=lambda entry: entry.name):
        there = target / entry.name
        if entry.is_file(follow_symlinks=False) and top:
            continue
        if not os.path.lexists(there):
            with suppress(FileNotFoundError):  # moved already by an earlier, interrupted finish
                os.rename(entry.path, there)
        elif entry.is_dir(follow_symlinks=False) and there.is_dir() and not there.is_symlink():
            _move_missing(Path(entry.path), there, top=False)

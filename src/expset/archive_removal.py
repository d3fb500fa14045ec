"""``expset archive --remove-after-verify``: the one way archiving deletes, and only what a verified archive holds.

What goes: each file the archive's manifest lists, as long as it is still the file that was read into the
archive (same size, modification time and inode) and is reached without going through a link (a run's
``logs/`` on another file system is left where it is). Then each folder the archive holds that is empty by then.
A per-run archive holds its set's records too, but only the run's folder goes: the rest of the set needs them.
Checkpoints the archive leaves out stay, and so does everything else it does not hold.

Runs with a job pending or running are refused before anything is written, and again, under the set's submit
lock, just before anything goes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path

from expset.archive import Identity, Written
from expset.core.layout import LEDGER_FILE, STATE_DIR, SUBMIT_LOCK


@dataclass
class Removal:
    """What ``--remove-after-verify`` removes and what it leaves, with why."""

    set_dir: Path
    runs: set[str] | None  # None: the whole set
    files: list[tuple[str, int]] = field(default_factory=list)  # path relative to the set, size
    folders: list[str] = field(default_factory=list)  # removed when empty, deepest first
    kept: list[tuple[str, str]] = field(default_factory=list)  # path → why it stays

    @property
    def size(self) -> int:
        return sum(size for _, size in self.files)


def plan_removal(set_dir: Path, written: list[Written]) -> Removal:
    """What may go once the archives in ``written`` were verified."""
    set_dir = set_dir.absolute()
    whole = any(item.manifest.runs is None for item in written)
    runs = None if whole else {run for item in written for run in item.manifest.runs or ()}
    removal = Removal(set_dir, runs)
    linked: dict[str, bool] = {}
    folders: set[str] = set()
    for item in written:
        for entry in item.manifest.files:
            top = entry.path.split("/", 1)[0]
            if runs is not None and top not in runs:
                continue  # the set's records in a run's archive: the set needs them
            why = _why_kept(set_dir, entry.path, item.identities[entry.path], linked)
            if why:
                removal.kept.append((entry.path, why))
            else:
                removal.files.append((entry.path, item.identities[entry.path].size))
        folders |= {folder for folder in item.manifest.folders if runs is None or folder.split("/", 1)[0] in runs}
    folders |= set(runs or ())
    removal.folders = sorted(folders, key=lambda folder: (-folder.count("/"), folder))  # deepest first
    return removal


def _why_kept(set_dir: Path, relative: str, identity: Identity, linked: dict[str, bool]) -> str | None:
    parent = ""
    for part in relative.split("/")[:-1]:
        parent = f"{parent}/{part}" if parent else part
        if parent not in linked:
            linked[parent] = os.path.islink(set_dir / parent)
        if linked[parent]:
            return f"reached through the link {parent}"
    try:
        now = os.lstat(set_dir / relative)
    except OSError:
        return "gone already"
    if (now.st_size, now.st_mtime_ns, now.st_ino) != (identity.size, identity.mtime_ns, identity.inode):
        return "changed since it was archived"
    return None


def refuse_active_runs(set_dir: Path, run_names: set[str]) -> None:
    """``BusyError`` naming the runs of ``run_names`` with a job pending, running or in a state nobody can tell
    (``busy.refuse_busy``). A set whose ledger is absent never had a job submitted: SLURM is not asked."""
    if not (set_dir / LEDGER_FILE).exists():
        return
    from expset.busy import refuse_busy
    from expset.sets import load_recorded_set
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    recorded = {run.name for run in load_recorded_set(set_dir).all_runs}
    refuse_busy(
        set_dir,
        recorded,
        run_names,
        SlurmClient(SubprocessRunner()),
        done="nothing was archived or removed",
        hint="wait for them to end (expset status) or cancel them (expset cancel), then archive again",
    )


def remove(removal: Removal, run_names: set[str]) -> None:
    """Remove what ``removal`` lists, under the set's submit lock, after checking again that no job of
    ``run_names`` is pending or running."""
    with _locked(removal.set_dir):
        refuse_active_runs(removal.set_dir, run_names)
        for relative, _ in removal.files:
            os.unlink(removal.set_dir / relative)
        for folder in removal.folders:
            _remove_if_empty(removal.set_dir / folder)
    if removal.runs is None:  # the whole set: the lock file expset made for itself goes last, then the set
        lock = removal.set_dir / SUBMIT_LOCK
        if lock.is_file() and not lock.is_symlink():
            lock.unlink()
        _remove_if_empty(removal.set_dir / STATE_DIR)
        _remove_if_empty(removal.set_dir)


@contextmanager
def _locked(set_dir: Path) -> Iterator[None]:
    from expset.fs.set_lock import set_lock

    with set_lock(set_dir) if (set_dir / LEDGER_FILE).exists() else nullcontext():
        yield


def _remove_if_empty(folder: Path) -> None:
    if folder.is_symlink():
        return
    with suppress(OSError):  # not empty: it holds what the archive left out
        os.rmdir(folder)

"""``expset archive --remove-after-verify``: the one way archiving deletes, and only what a verified archive holds.

What goes: each file the archive's manifest lists, as long as it is still the file that was read into the
archive (same size, modification time and inode, checked again just before it goes) and is reached without
going through a link (a run's ``logs/`` on another file system is left where it is). Then each folder the
archive holds that is empty by then, never one reached through a link. A per-run archive holds its set's
records too, but only the run's folder goes: the rest of the set needs them. ``expset archive`` refuses the
removal when checkpoints would be left out: a run folder holding nothing but ``epoch_N/`` is of no use to any
command, and no archive restores into it.

Runs with a job pending or running are refused before anything is written, and again just before anything
goes; the set's lock is held by the caller from planning to the end of the removal.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from expset.archive import Identity, Written
from expset.core.layout import LEDGER_FILE, STATE_DIR, SUBMIT_LOCK
from expset.errors import LinkError
from expset.fs import inside


@dataclass
class Removal:
    """What ``--remove-after-verify`` removes and what it leaves, with why."""

    set_dir: Path
    runs: set[str] | None  # None: the whole set
    files: list[tuple[str, int]] = field(default_factory=list)  # path relative to the set, size
    folders: list[str] = field(default_factory=list)  # removed when empty, deepest first
    kept: list[tuple[str, str]] = field(default_factory=list)  # path → why it stays
    identities: dict[str, Identity] = field(default_factory=dict)  # each file as it was archived

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
            identity = item.identities[entry.path]
            why = _why_kept(set_dir, entry.path, identity, linked)
            if why:
                removal.kept.append((entry.path, why))
            else:
                removal.files.append((entry.path, identity.size))
                removal.identities[entry.path] = identity
        for folder in item.manifest.folders:
            if runs is not None and folder.split("/", 1)[0] not in runs:
                continue
            if _through_link(set_dir, f"{folder}/-", linked) is None:
                folders.add(folder)  # a folder reached through a link, or a link itself, is not the set's to remove
    folders |= {run for run in runs or () if _through_link(set_dir, f"{run}/-", linked) is None}
    removal.folders = sorted(folders, key=lambda folder: (-folder.count("/"), folder))  # deepest first
    return removal


def _is_link(set_dir: Path, relative: str, linked: dict[str, bool]) -> bool:
    if relative not in linked:
        linked[relative] = os.path.islink(set_dir / relative)
    return linked[relative]


def _through_link(set_dir: Path, relative: str, linked: dict[str, bool]) -> str | None:
    """The first folder above ``relative`` that is a link, if any: what is reached through it is not the set's."""
    parent = ""
    for part in relative.split("/")[:-1]:
        parent = f"{parent}/{part}" if parent else part
        if _is_link(set_dir, parent, linked):
            return parent
    return None


def _why_kept(set_dir: Path, relative: str, identity: Identity, linked: dict[str, bool]) -> str | None:
    link = _through_link(set_dir, relative, linked)
    if link is not None:
        return f"reached through the link {link}"
    try:
        now = os.lstat(set_dir / relative)
    except OSError:
        return "gone already"
    return _changed(now, identity)


def _changed(now: os.stat_result, identity: Identity) -> str | None:
    if stat.S_ISLNK(now.st_mode):
        return "a link: its target stays"
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


def remove(removal: Removal, run_names: set[str]) -> list[tuple[str, str]]:
    """Remove what ``removal`` lists, after checking again that no job of ``run_names`` is pending or running.

    The caller holds the set's lock (``fs.set_lock.set_lock``), so no expset command changes the set meanwhile;
    a job or a person still may, so each file is checked again just before it goes, and one that changed since
    it was archived stays. Returns what stayed, with why. Nothing is reached through a link: every folder on the
    way is opened with ``O_NOFOLLOW``."""
    refuse_active_runs(removal.set_dir, run_names)
    stayed: list[tuple[str, str]] = []
    for relative, _ in removal.files:
        why = _unlink_unchanged(removal.set_dir, relative, removal.identities[relative])
        if why is not None:
            stayed.append((relative, why))
    for folder in removal.folders:
        _remove_if_empty(removal.set_dir, folder)
    if removal.runs is None:  # the whole set: the lock file expset made for itself goes last, then the set
        name = SUBMIT_LOCK.rpartition("/")[2]
        with suppress(OSError, LinkError), inside.folder(removal.set_dir, STATE_DIR, create=False) as handle:
            if stat.S_ISREG(os.stat(name, dir_fd=handle, follow_symlinks=False).st_mode):
                os.unlink(name, dir_fd=handle)
        _remove_if_empty(removal.set_dir, STATE_DIR)
        if not os.path.islink(removal.set_dir):
            with suppress(OSError):  # not empty: it holds what the archive did not
                os.rmdir(removal.set_dir)
    return stayed


def _unlink_unchanged(set_dir: Path, relative: str, identity: Identity) -> str | None:
    """Unlink ``relative`` if it is still the file that was archived; else why it stays."""
    parent, _, name = relative.rpartition("/")
    try:
        with inside.folder(set_dir, parent, create=False) as handle:
            why = _changed(os.stat(name, dir_fd=handle, follow_symlinks=False), identity)
            if why is None:
                os.unlink(name, dir_fd=handle)
            return why
    except LinkError:
        return "reached through a link"
    except FileNotFoundError:
        return "gone already"


def _remove_if_empty(set_dir: Path, relative: str) -> None:
    """Remove the folder ``relative`` if it is empty, never through a link nor a link itself."""
    parent, _, name = relative.rpartition("/")
    # not empty: it holds what the archive did not
    with suppress(OSError, LinkError), inside.folder(set_dir, parent, create=False) as handle:
        if stat.S_ISDIR(os.stat(name, dir_fd=handle, follow_symlinks=False).st_mode):
            os.rmdir(name, dir_fd=handle)

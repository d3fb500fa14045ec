"""``expset restore``: an archive made by ``expset archive`` unpacked as a set, all at once or not at all.

The archive is unpacked into a hidden staging folder in the root (the writer's, with its lock against a
concurrent cleaner), every member checked against the manifest on the way, and only once all of it matched is
the staging folder renamed into place — never over an existing folder. A damaged or unsafe archive leaves
nothing behind.

An archive of whole set needs its set folder absent from the root. An archive of one run (``expset archive SET
RUN``) restores as a set of that run alone when the set is absent from the root; when the set is there, only
its run folder is moved in, and only if the set has no folder of that run and knows the run: the set's own
records are kept and the archive's left aside.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from expset.archive_read import ReadArchive, read_archive, read_header
from expset.errors import TargetExistsError, UsageError, WriteError

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass
class Restored:
    """Where the archive went: the set folder, and the runs moved into a set that was already there."""

    set_dir: Path
    read: ReadArchive
    into_existing: tuple[str, ...] = ()


def restore_archive(archive: Path, root: Path, progress: Callable[[int], None] | None = None) -> Restored:
    """Unpack ``archive`` into ``root`` as its set (see the module's docstring for a per-run archive).

    ``TargetExistsError`` when the set (or, into an existing set, the run's folder) exists; ``ArchiveError``
    when the archive is damaged or unsafe; ``WriteError`` when the disk refuses. Nothing is left behind.
    """
    from expset.fs.writer import move_into_place, staging_folder

    header = read_header(archive)
    target = root / header.set_name
    into_existing = header.runs is not None and target.is_dir()
    if into_existing:
        _check_runs_fit(target, header.runs or ())
    elif os.path.lexists(target):
        raise TargetExistsError(
            f"{target} already exists; nothing was restored",
            hint="restore into another --root, or move that set away first",
        )
    with staging_folder(target) as stage:
        stage_fd = os.open(stage, os.O_RDONLY | os.O_DIRECTORY)
        made: set[str] = set()
        try:
            read = read_archive(
                archive,
                sink=lambda relative, member: _MemberFile(stage_fd, relative, member.mode, member.mtime, made),
                on_folder=lambda relative: _make_folders(stage_fd, relative, made),
                progress=progress,
            )
        except OSError as error:
            raise WriteError(f"cannot restore into {root}: {error.strerror}", hint="nothing was left behind") from None
        finally:
            os.close(stage_fd)
        os.sync()  # on disk before it is in place: a user who trusts the restore may delete the archive next
        if not into_existing:
            move_into_place(stage, target)
            return Restored(target, read)
        for run in header.runs or ():
            move_into_place(stage / run, target / run)
        return Restored(target, read, header.runs or ())


def _check_runs_fit(set_dir: Path, runs: tuple[str, ...]) -> None:
    from expset.sets import load_recorded_set

    recorded = load_recorded_set(set_dir)  # a run whose folder is gone is still the set's: it comes back
    known = {run.name for run in recorded.all_runs}
    for run in runs:
        if run in recorded.removed:
            raise UsageError(
                f"{run} was removed from {set_dir} (expset remove); nothing was restored",
                hint="restore the archive into another --root: it holds its set's records",
            )
        if run not in known:
            raise UsageError(
                f"{set_dir} has no run {run}; nothing was restored",
                hint="restore the archive into another --root: it holds its set's records",
            )
        if os.path.lexists(set_dir / run):
            raise TargetExistsError(
                f"{set_dir / run} already exists; nothing was restored",
                hint="restore into another --root, or move that run folder away first",
            )


class _MemberFile:
    """Writes one member's bytes to its new file in the staging folder (created, never opened through a link),
    and gives it the member's mode and time when done."""

    def __init__(self, stage_fd: int, relative: str, mode: int, mtime: float, made: set[str]) -> None:
        parent = os.path.dirname(relative)
        if parent:
            _make_folders(stage_fd, parent, made)
        self.handle = os.open(relative, _FILE_FLAGS, 0o755 if mode & 0o111 else 0o644, dir_fd=stage_fd)
        self.stage_fd, self.relative, self.mtime = stage_fd, relative, mtime

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.handle, view) :]

    def close(self) -> None:
        os.close(self.handle)
        os.utime(self.relative, (self.mtime, self.mtime), dir_fd=self.stage_fd, follow_symlinks=False)


def _make_folders(stage_fd: int, relative: str, made: set[str]) -> None:
    """``relative``'s folders in the staging folder (``made``: those already there): an archive may list a
    folder after its files."""
    if relative in made:
        return
    path = ""
    for part in relative.split("/"):
        path = f"{path}/{part}" if path else part
        if path not in made:
            with suppress(FileExistsError):
                os.mkdir(path, 0o755, dir_fd=stage_fd)
            made.add(path)

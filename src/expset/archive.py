"""``expset archive``: a set (or some of its runs) as compressed tars, each checked against its manifest.

``plan_archive`` walks the set and decides what each archive holds (``core.archive_members`` says which
files are checkpoints and which of them ``--checkpoints`` keeps); ``write_archive`` writes one archive under
a hidden temporary name in the target folder, reading each file once while hashing it, adds the manifest as
the last member, reads the whole archive back against the manifest, and only then renames it into place,
never over an existing file. Whatever stops it, Ctrl-C included, the temporary file is removed.

Links inside the set (a run's ``logs/`` or ``epoch_N/`` on another file system) are archived as what they
point to: an archive outlives the file systems its set lived on. What an interrupted expset command left
behind (a checkpoint folder ``clean`` was removing, files ``remove`` could not delete, a change not yet
carried out) is left out: restored as ordinary files it would become part of the set. A name no tar member
may have is refused while planning, not found once the whole archive was written.

The caller holds the set's lock from planning to the end of writing, so the archive is one state of the set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from expset.core.archive_members import (
    HEADER_PREFIX,
    MANIFEST_MEMBER,
    Checkpoints,
    LeftOut,
    Manifest,
    ManifestFile,
    archive_name,
    checkpoint_of,
    kind_of,
    member_problem,
    select_files,
)
from expset.core.layout import (
    EVALUATIONS_DIR,
    SUBMIT_LOCK,
    evaluation_step,
    parse_evaluation_record,
    parse_removing_dir,
)
from expset.core.naming import ExperimentSet
from expset.errors import ArchiveError, TargetExistsError, UsageError, WriteError
from expset.fs.gzip_members import GzipMembers

COMPRESS_LEVEL = 6
"""gzip's default speed/size balance; 9 is several times slower for a few per cent on logs."""
STORED = 0
"""Checkpoints are stored as they are: weights do not compress, and deflate would take 30 s a gigabyte for nothing."""
LEFT_ALONE = frozenset({SUBMIT_LOCK, MANIFEST_MEMBER})
"""Never archived: the submit lock (who holds it, now) and the manifest of the archive a set was restored
from (the new archive has its own)."""


@dataclass(frozen=True)
class SourceFile:
    """A file of the set to archive: its path relative to the set, where it is, and its size when walked."""

    path: str
    absolute: str
    size: int


@dataclass(frozen=True)
class Identity:
    """A file as it was when archived, so ``--remove-after-verify`` removes only what did not change since."""

    size: int
    mtime_ns: int
    inode: int


@dataclass
class ArchivePart:
    """One archive to write: where, the runs it holds (None: the whole set), its files, folders and what it
    leaves out."""

    target: Path
    runs: tuple[str, ...] | None
    files: list[SourceFile]
    folders: list[str]
    left_out: list[LeftOut]

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)


@dataclass
class ArchivePlan:
    """The archives of one ``expset archive`` command, and what the preview says about them."""

    set_dir: Path
    set_name: str
    checkpoints: Checkpoints
    parts: list[ArchivePart]
    run_names: frozenset[str] = frozenset()
    kinds: dict[str, tuple[int, int]] = field(default_factory=dict)  # what goes in → (files, bytes)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # path → why it is left out (leftovers too)

    @property
    def left_out(self) -> list[LeftOut]:
        return [item for part in self.parts for item in part.left_out]


def plan_archive(
    experiment_set: ExperimentSet, set_dir: Path, runs: list[str] | None, checkpoints: Checkpoints, to: Path
) -> ArchivePlan:
    """What ``expset archive`` would write: one archive of the set, or one per run of ``runs``, into ``to``."""
    set_dir = set_dir.absolute()
    run_names = frozenset(run.name for run in experiment_set.all_runs)
    for run in runs or []:
        if run not in run_names:
            examples = ", ".join(sorted(run_names)[:3])
            raise UsageError(f"RUN {run}: not a run of set {experiment_set.set_name}", hint=f"runs: {examples}")
        if not (set_dir / run).is_dir():
            raise UsageError(f"RUN {run}: no folder {set_dir / run}", hint="it was removed: nothing to archive")
    _check_folder(to, set_dir)
    files, folders, unreadable = scan(set_dir)
    evaluated = evaluated_epochs(set_dir, run_names)
    selection = select_files(((f.path, f.size) for f in files), run_names, checkpoints, evaluated)
    holding = {path.rsplit("/", 1)[0] for path in selection.kept if "/" in path}
    holding |= {parent for folder in list(holding) for parent in _parents(folder)}
    folders = [f for f in folders if f in holding or checkpoint_of(f"{f}/-", run_names) is None]  # none left empty
    by_path = {file.path: file for file in files}
    unarchivable(experiment_set.set_name, [*folders, *selection.kept])
    plan = ArchivePlan(set_dir, experiment_set.set_name, checkpoints, [], run_names, unreadable=unreadable)
    for path in selection.kept:
        kind = kind_of(path, run_names)
        count, size = plan.kinds.get(kind, (0, 0))
        plan.kinds[kind] = (count + 1, size + by_path[path].size)
    for part_runs in [None] if not runs else [(run,) for run in dict.fromkeys(runs)]:
        others = run_names - set(part_runs or ())

        def holds(path: str, others: frozenset[str] = others, whole: bool = part_runs is None) -> bool:
            return whole or path.split("/", 1)[0] not in others

        plan.parts.append(
            ArchivePart(
                target=to.absolute() / archive_name(experiment_set.set_name, part_runs[0] if part_runs else None),
                runs=part_runs,
                files=[by_path[path] for path in selection.kept if holds(path)],
                folders=[folder for folder in folders if holds(folder)],
                left_out=[item for folder, item in selection.left_out.items() if holds(folder)],
            )
        )
    if runs:  # the preview counts what the per-run archives hold
        plan.kinds = {}
        for part in plan.parts:
            for file in part.files:
                count, size = plan.kinds.get(kind_of(file.path, run_names), (0, 0))
                plan.kinds[kind_of(file.path, run_names)] = (count + 1, size + file.size)
    return plan


def _parents(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts))]


def _check_folder(to: Path, set_dir: Path) -> None:
    if not to.is_dir():
        raise UsageError(f"--to {to}: no such folder", hint=f"create it (mkdir -p {to}) or give another --to")
    inside = os.path.realpath(to) + os.sep
    if inside.startswith(os.path.realpath(set_dir) + os.sep):
        raise UsageError(f"--to {to}: inside the set it would archive", hint="give a folder outside the set")


def scan(set_dir: Path) -> tuple[list[SourceFile], list[str], list[tuple[str, str]]]:
    """Every file and folder under ``set_dir`` (relative, sorted, links followed once), and the entries that
    are not archived with why (a link to nothing, a FIFO, an unreadable folder, what an interrupted expset
    command left behind)."""
    files: list[SourceFile] = []
    folders: list[str] = []
    unreadable: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()

    def walk(folder: str, relative: str) -> None:
        try:
            info = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            unreadable.append((relative or ".", f"cannot be read: {error.strerror}"))
            return
        if (info.st_dev, info.st_ino) in seen:
            unreadable.append((relative, "a link back into a folder already archived"))
            return
        seen.add((info.st_dev, info.st_ino))
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            leftover = _leftover(entry.name, top=not relative)
            if leftover is not None:
                unreadable.append((path, leftover))
                continue
            try:
                details = entry.stat()  # follows links
            except OSError:
                unreadable.append((path, "a link to nothing"))
                continue
            if stat.S_ISDIR(details.st_mode):
                folders.append(path)
                walk(entry.path, path)
            elif stat.S_ISREG(details.st_mode):
                if path not in LEFT_ALONE:
                    files.append(SourceFile(path, entry.path, details.st_size))
            else:
                unreadable.append((path, "not a regular file"))

    walk(str(set_dir), "")
    return files, folders, unreadable


def _leftover(name: str, *, top: bool) -> str | None:
    """Why ``name`` is what an interrupted expset command left behind, not part of the set; None when it is not.

    A checkpoint folder ``expset clean`` was removing is already gone for every reader of the set; the files
    ``expset remove`` could not delete belong to removed runs; a pending change is the set's next state, carried
    out by the next command. Archiving any of them as ordinary files would restore them as such."""
    from expset.fs.set_change import PENDING, UNDELETED

    if parse_removing_dir(name) is not None:
        return "a checkpoint folder an interrupted expset clean was removing"
    if top and name.startswith(UNDELETED):
        return "files of removed runs that expset remove could not delete"
    if top and name == PENDING:
        return "a change of the set not yet carried out"
    return None


def unarchivable(set_name: str, paths: list[str]) -> None:
    """``UsageError`` naming the first of ``paths`` (relative to the set) that no archive may hold (a backslash
    in its name, say): refused before anything is written, not found when the archive is read back."""
    for path in paths:
        problem = member_problem(f"{set_name}/{path}", set_name)
        if problem is not None:
            shown = path if path.isprintable() else repr(path)
            why = "has a backslash in its name" if "\\" in path else problem  # restore refuses such members
            raise UsageError(
                f"{shown} {why}, so no archive can hold it; nothing was written",
                hint="rename it (or move it out of the set), then archive again",
            )


def evaluated_epochs(set_dir: Path, run_names: frozenset[str]) -> dict[str, set[int]]:
    """For each run and each run's canary, the epochs with a successful evaluation record on disk."""
    from expset.tracking import list_folder, read_record

    found: dict[str, set[int]] = {}
    for run in run_names:
        for owner in (run, f"{run}/canary"):
            owner_dir = set_dir / owner
            for task in list_folder(owner_dir / EVALUATIONS_DIR):
                for name in list_folder(owner_dir / EVALUATIONS_DIR / task):
                    place = parse_evaluation_record(name)
                    if place is None:
                        continue
                    record = read_record(owner_dir, evaluation_step(task, place[0]), place[1])
                    if record is not None and record.status == "success":
                        found.setdefault(owner, set()).add(place[0])
    return found


@dataclass
class Written:
    """An archive written and verified: where, its manifest, and how each archived file was on disk."""

    path: Path
    manifest: Manifest
    compressed_size: int
    identities: dict[str, Identity]


def write_archive(
    plan: ArchivePlan, part: ArchivePart, progress: Callable[[int], None] | None = None, *, version: str = ""
) -> Written:
    """Write ``part`` to a temporary file beside its target, verify it against its manifest, rename it into place.

    ``TargetExistsError`` if the target exists; ``WriteError`` if the disk refuses or the written archive does
    not read back as written; ``ArchiveError`` if a file changed while it was read. Nothing is left behind.
    """
    from expset.archive_read import read_archive
    from expset.fs.writer import move_into_place

    target = part.target
    if os.path.lexists(target):
        raise TargetExistsError(f"{target} already exists", hint="give another --to, or move that archive away")
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as raw:
            manifest, identities = _write(plan, part, raw, progress)
            raw.flush()
            os.fsync(raw.fileno())
        try:
            read_archive(temporary)
        except ArchiveError as error:
            raise WriteError(
                f"{target.name} did not read back as written: {error.message}; it was removed",
                hint="check the disk of --to, then archive again",
            ) from None
        compressed = os.stat(temporary).st_size
        move_into_place(temporary, target)
    except OSError as error:
        raise WriteError(f"cannot write {target}: {error.strerror}", hint="nothing was left behind") from None
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return Written(target, manifest, compressed, identities)


def _write(
    plan: ArchivePlan, part: ArchivePart, raw: BinaryIO, progress: Callable[[int], None] | None
) -> tuple[Manifest, dict[str, Identity]]:
    name = plan.set_name
    headers = {f"{HEADER_PREFIX}set": name, f"{HEADER_PREFIX}runs": ",".join(part.runs or ())}
    now = dt.datetime.now(dt.timezone.utc)
    entries: list[ManifestFile] = []
    identities: dict[str, Identity] = {}
    compressed = GzipMembers(raw, COMPRESS_LEVEL)
    with tarfile.TarFile(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT, pax_headers=headers) as tar:  # type: ignore[arg-type]
        tar.addfile(_folder_info(name, now.timestamp()))
        for folder in part.folders:
            tar.addfile(_folder_info(f"{name}/{folder}", now.timestamp()))
        for file in part.files:
            compressed.level(STORED if checkpoint_of(file.path, plan.run_names) else COMPRESS_LEVEL)
            entry, identity = _add_file(tar, name, file, progress)
            entries.append(entry)
            identities[file.path] = identity
        manifest = Manifest(
            set_name=name,
            runs=part.runs,
            checkpoints=plan.checkpoints,
            files=tuple(entries),
            folders=tuple(part.folders),
            left_out=tuple(part.left_out),
            created=now.isoformat(timespec="seconds"),
            version=_version(),
        )
        document = json.dumps(manifest.to_data(), indent=1).encode("utf-8") + b"\n"
        info = tarfile.TarInfo(f"{name}/{MANIFEST_MEMBER}")
        info.size, info.mode, info.mtime = len(document), 0o644, int(now.timestamp())
        compressed.level(COMPRESS_LEVEL)
        tar.addfile(info, io.BytesIO(document))
    compressed.close()
    return manifest, identities


def _version() -> str:
    from expset import __version__

    return __version__


def _folder_info(name: str, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(mtime)
    return info


class _Hashing:
    """A file being archived, hashed and counted as tarfile reads it."""

    def __init__(self, handle: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.count = 0
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.count += len(data)
        if self.progress is not None:
            self.progress(len(data))
        return data


def _add_file(
    tar: tarfile.TarFile, set_name: str, file: SourceFile, progress: Callable[[int], None] | None
) -> tuple[ManifestFile, Identity]:
    try:
        handle = open(file.absolute, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise ArchiveError(f"cannot read {file.path}: {error.strerror}", hint="nothing was written") from None
    with handle:
        details = os.fstat(handle.fileno())
        info = tarfile.TarInfo(f"{set_name}/{file.path}")
        info.size = details.st_size
        info.mtime = int(details.st_mtime)
        info.mode = 0o755 if details.st_mode & 0o111 else 0o644
        reader = _Hashing(handle, progress)
        try:
            tar.addfile(info, reader)  # type: ignore[arg-type]
        except OSError as error:
            if reader.count < details.st_size and not error.errno:  # tarfile's "unexpected end of data"
                raise _changed(file) from None
            raise
        if reader.count != details.st_size or handle.read(1):
            raise _changed(file)
    identity = Identity(details.st_size, details.st_mtime_ns, details.st_ino)
    return ManifestFile(file.path, details.st_size, reader.digest.hexdigest()), identity


def _changed(file: SourceFile) -> ArchiveError:
    return ArchiveError(
        f"{file.path} changed while it was archived (a job still writing it?); nothing was written",
        hint="archive again once the set's jobs have ended",
    )

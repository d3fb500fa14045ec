"""``expset extend`` and ``expset remove``: runs added to a set or taken out of it, on disk.

Both write through ``fs.set_change``: the whole change or none of it. Existing run folders are never
rewritten: an extension adds folders beside them (and empty evaluation folders inside them); a removal
deletes exactly the run folders named. The set's top-level files are rewritten from the changed set,
each only while it is still the text expset wrote: one a researcher edited is kept, and a note says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from expset.core.layout import (
    PLAN_FILE,
    RUN_FILE,
    SET_FILES,
    FileKind,
    PlannedFile,
    SetLayout,
    run_directories,
)
from expset.core.naming import ExperimentSet
from expset.core.plan import Plan
from expset.core.set_changes import Extension, extend_set, remove_runs
from expset.errors import DeclinedError, TargetExistsError
from expset.sets import load_recorded_set, load_set


@dataclass(frozen=True)
class PlannedExtension:
    """What ``extend`` will write: the extension, the set files it rewrites or keeps, and the record it was
    planned from (the set must still be that when it is written)."""

    extension: Extension
    rewritten: list[str]
    kept_edited: list[str]
    existing_runs_gaining_tasks: list[str]
    record: bytes


def plan_extension(set_dir: Path, plan: Plan, *, today: object, author: str) -> PlannedExtension:
    """The extension of the set in ``set_dir`` by ``plan``, checked, and what it will rewrite; writes nothing."""
    import datetime as dt

    assert isinstance(today, dt.date)
    existing = load_set(set_dir)
    record = (set_dir / PLAN_FILE).read_bytes()
    extension = extend_set(existing, plan, today=today, author=author)
    present = _folders(set_dir)
    clashes = [run.name for run in extension.added if run.name in present]
    if clashes:
        raise TargetExistsError(
            f"{set_dir}: {', '.join(clashes)} already exist{'s' if len(clashes) == 1 else ''} in the set folder, "
            "but not as runs of the set; nothing was written",
            hint="move those folders out of the set first",
        )
    rewritten, kept = _top_file_fates(set_dir, extension.extended)
    gaining = [run.name for run in existing.all_runs] if extension.new_tasks else []
    return PlannedExtension(extension, rewritten, kept, gaining, record)


def write_extension(set_dir: Path, planned: PlannedExtension, version: str) -> None:
    """Add the new runs' folders, the new evaluation folders of the existing runs, and the rewritten set files;
    ``BusyError`` when the set changed since the extension was planned."""
    from expset.fs.set_change import change_set
    from expset.fs.set_lock import set_lock

    extended = planned.extension.extended
    tasks = extended.plan.task_names
    index = {run.name: position for position, run in enumerate(extended.all_runs)}
    directories: list[str] = []
    run_files: list[PlannedFile] = []
    for run in planned.extension.added:
        directories.extend(run_directories(run.name, tasks))
        run_files.append(PlannedFile(f"{run.name}/{RUN_FILE}", FileKind.RUN, index[run.name]))
    for run in planned.existing_runs_gaining_tasks:
        directories.extend(run_directories(run, list(planned.extension.new_tasks)))
    files = [*_rendered(set_dir, extended, version, run_files, planned.rewritten)]
    with set_lock(set_dir):
        change_set(set_dir, directories, files, expected_record=planned.record)


@dataclass
class PlannedRemoval:
    """What ``remove`` will delete: per run, its files and bytes (nothing when its folder is already gone)."""

    after: ExperimentSet
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    undeleted: Path | None = None  # where files that could not be deleted were left
    rewritten: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def remove_from_set(
    set_dir: Path,
    names: list[str],
    client: object,
    confirm: Callable[[PlannedRemoval], bool],
    *,
    today: object,
    author: str,
    version: str,
) -> PlannedRemoval:
    """Remove the runs ``names`` from the set once ``confirm`` approves: their folders and their place in the
    set's records. Refused while any of their jobs is pending or running; ``DeclinedError`` when not approved."""
    import datetime as dt

    from expset.busy import refuse_busy
    from expset.fs.set_change import change_set, finish_locked
    from expset.fs.set_lock import set_lock

    assert isinstance(today, dt.date)
    set_dir = set_dir.absolute()
    with set_lock(set_dir):
        finish_locked(set_dir)  # a change a killed process committed: the record below is the one after it
        recorded = load_recorded_set(set_dir)
        after = remove_runs(recorded, names, today=today, author=author)
        _refuse_undeletable(set_dir, names)
        tracked = refuse_busy(
            set_dir,
            {run.name for run in recorded.all_runs},
            set(names),
            client,  # type: ignore[arg-type]
            done="nothing was removed",
            hint=f"cancel them first: expset cancel {set_dir} --runs {','.join(names)}",
        )
        notes = tracked.notes
        present = _folders(set_dir)
        planned = PlannedRemoval(after=after, notes=notes)
        for name in dict.fromkeys(names):
            planned.sizes[name] = _size(set_dir / name) if name in present else (0, 0)
        planned.rewritten, planned.kept_edited = _top_file_fates(set_dir, after)
        if not confirm(planned):
            raise DeclinedError("nothing was removed")
        files = list(_rendered(set_dir, after, version, [], planned.rewritten))
        gone = [name for name in planned.sizes if name in present]
        planned.undeleted = change_set(set_dir, [], files, remove_runs=gone)
    return planned


def _refuse_undeletable(set_dir: Path, names: list[str]) -> None:
    """Refuse, before anything changes, a run folder that is a link (its target is not the set's to delete)
    or holds a folder this user cannot write (its files could not be deleted)."""
    from expset.errors import LinkError, WriteError

    for name in names:
        folder = set_dir / name
        if folder.is_symlink():
            raise LinkError(
                f"{folder} is a symbolic link (to {os.readlink(folder)}); nothing was removed",
                hint="expset deletes only folders inside the set: remove the link yourself, then `expset remove` "
                "records the run",
            )
        for root, _, _ in os.walk(folder):
            if not os.access(root, os.W_OK | os.X_OK):
                raise WriteError(
                    f"{root}: not writable by you, so its files cannot be deleted; nothing was removed",
                    hint="ask its owner, or change its permissions (chmod u+w), then remove again",
                )


def _top_file_fates(set_dir: Path, after: ExperimentSet) -> tuple[list[str], list[str]]:
    """(set files to rewrite, set files to keep because they were edited by hand); ``expset.yaml`` is expset's
    own record and always rewritten."""
    from expset.provenance import read_deviations, recorded_version
    from expset.render.set_files import render_set_files

    before = load_recorded_set(set_dir)
    deviations = read_deviations(set_dir)
    layout = SetLayout((), tuple(PlannedFile(path, kind) for path, kind in SET_FILES))
    old = dict(render_set_files(before, layout, recorded_version(set_dir), _kept(deviations, before)))
    rewritten, kept = [PLAN_FILE], []
    for path, _ in SET_FILES:
        if path == PLAN_FILE:
            continue
        try:
            current = (set_dir / path).read_text(encoding="utf-8")
        except OSError:
            current = None
        if current is None or current == old[path]:
            rewritten.append(path)
        else:
            kept.append(path)
    return rewritten, kept


def _rendered(
    set_dir: Path, after: ExperimentSet, version: str, run_files: list[PlannedFile], top: list[str]
) -> list[tuple[str, str]]:
    from expset.provenance import read_deviations
    from expset.render.set_files import render_set_files

    layout = SetLayout((), (*(PlannedFile(path, kind) for path, kind in SET_FILES if path in top), *run_files))
    return list(render_set_files(after, layout, version, _kept(read_deviations(set_dir), after)))


def _kept(deviations: dict[str, dict[str, object]], experiment_set: ExperimentSet) -> dict[str, dict[str, object]]:
    """The deviations of the runs ``experiment_set`` has: a removed run's are no longer the set's."""
    names = {run.name for run in experiment_set.all_runs}
    return {run: changes for run, changes in deviations.items() if run in names}


def _folders(set_dir: Path) -> set[str]:
    try:
        return set(os.listdir(set_dir))
    except OSError:
        return set()


def _size(folder: Path) -> tuple[int, int]:
    """(files, bytes) below ``folder``, links counted as themselves and never followed."""
    files = size = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
                files += 1
            except OSError:
                continue
    return files, size

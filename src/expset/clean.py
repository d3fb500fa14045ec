"""``expset clean``: remove checkpoint folders (``epoch_N/`` of a run and of its canary) to free disk, and
record what went in ``.expset/cleaned.jsonl``.

Runs under the set's submit lock, so that no submit queues a job that would read a folder being removed,
and asks SLURM first: a run with a job pending or running, or one whose state SLURM cannot tell, is never
cleaned — the whole command is refused naming them, since a job reading or writing an epoch is exactly
what a removal must not race. Which epochs go is ``core.cleaning``'s choice (an unfinished fine-tune keeps
the epoch it resumes from).

Each folder is first renamed to a hidden name (one atomic step: from then on the epoch is gone for
torchtune's resume, ``status`` and every reader), then recorded, then removed. Ctrl-C anywhere leaves every
epoch either whole under its own name or gone, and a later clean finishes (and records, if the record was
not yet written) any hidden folder an interrupted one left. Nothing is followed through a link: a
checkpoint folder that is a symbolic link is refused, and links inside one are removed as links.

torchtune's ``recipe_state/`` beside the epochs (what a resume reads with the last epoch) is not a
checkpoint folder and is left as it is, as are evaluation logs, training logs and ``report/``.
"""

from __future__ import annotations

import os
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expset.clean_record import read_cleaned, record_removal
from expset.core.cleaning import CheckpointChoice, Checkpoints, choose
from expset.core.jobs import JobState
from expset.core.layout import (
    CANARY_DIR,
    EVALUATIONS_DIR,
    FINETUNE_STEP,
    canary_step,
    epoch_dir,
    evaluation_step,
    parse_epoch_dir,
    parse_evaluation_record,
    parse_removing_dir,
    removing_dir,
)
from expset.core.naming import FINE_TUNED, ExperimentSet
from expset.errors import LinkError
from expset.sets import choose_runs
from expset.slurm.client import SlurmClient
from expset.tracking import list_folder, read_record


@dataclass(frozen=True)
class Removal:
    """One checkpoint folder to remove: its run, its place in the run (``epoch_1``, ``canary/epoch_0``), its
    files (relative to it) and their bytes."""

    run: str
    folder: str
    epoch: int
    files: tuple[str, ...]
    size: int
    hidden: str | None = None  # left hidden by an interrupted clean: its name, relative to the run
    recorded: bool = False  # ... and already in the record


@dataclass
class CleanReport:
    """What clean found to remove, kept and noted, and what it removed."""

    removals: list[Removal] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)  # run → checkpoint folders kept
    notes: list[str] = field(default_factory=list)  # per run: a choice that touches a resume; SLURM's complaints
    removed: list[Removal] = field(default_factory=list)

    @property
    def size(self) -> int:
        """The bytes the removals free."""
        return sum(removal.size for removal in self.removals)


def clean_set(
    experiment_set: ExperimentSet,
    set_dir: Path,
    client: SlurmClient,
    runs: list[str] | None,
    choice: CheckpointChoice,
    confirm: Callable[[CleanReport], bool],
    on_removed: Callable[[Removal], None] | None = None,
) -> CleanReport:
    """Remove the checkpoint folders ``choice`` names in the chosen runs, once ``confirm`` approves the report.

    ``BusyError`` naming the runs whose jobs are pending or running (or in a state SLURM cannot tell), and
    ``LinkError`` for a checkpoint folder that is a link: nothing is removed then. ``on_removed`` hears of
    each folder once it is gone and recorded.
    """
    from expset.busy import refuse_busy
    from expset.fs.set_lock import set_lock

    set_dir = set_dir.absolute()
    chosen = choose_runs(experiment_set, runs)
    with set_lock(set_dir):
        tracked = refuse_busy(
            set_dir,
            {run.name for run in (*experiment_set.all_runs, *experiment_set.missing)},
            {run.name for run in chosen},
            client,
            done="nothing was removed",
            hint="wait until they end (`expset status`) or cancel them (`expset cancel --runs`), then clean again, "
            "or leave them out with --runs",
        )
        report = CleanReport(notes=list(tracked.notes))
        tokens = {line.get("token") for line in read_cleaned(set_dir)}
        for run in chosen:
            for place in ("", CANARY_DIR):
                step = FINETUNE_STEP if not place else canary_step(FINETUNE_STEP)
                finished = (run.kind != FINE_TUNED and not place) or tracked.state(run.name, step) is JobState.COMPLETED
                _plan_place(set_dir, run.name, place, choice, finished, tokens, report)
        if not report.removals or not confirm(report):
            return report
        for removal in report.removals:
            _remove(set_dir, removal, choice)
            report.removed.append(removal)
            if on_removed is not None:
                on_removed(removal)
    return report


def _plan_place(
    set_dir: Path,
    run: str,
    place: str,
    choice: CheckpointChoice,
    finished: bool,
    tokens: set[Any],
    report: CleanReport,
) -> None:
    """Add to ``report`` what ``choice`` removes from one place of a run (its folder, or its canary's)."""
    relative = f"{run}/{place}" if place else run
    folder = set_dir / relative
    if os.path.islink(folder):
        from expset.fs.inside import link_error

        raise link_error(folder)
    prefix = f"{place}/" if place else ""
    names = list_folder(folder)
    epochs = {epoch: name for name in names if (epoch := parse_epoch_dir(name)) is not None}
    for name in sorted(names):  # left hidden by an interrupted clean: finished now
        hidden = parse_removing_dir(name)
        if hidden is not None and not os.path.islink(folder / name):
            files, size = _contents(folder / name)
            epoch, token = hidden
            left = Removal(run, f"{prefix}{epoch_dir(epoch)}", epoch, files, size, f"{prefix}{name}", token in tokens)
            report.removals.append(left)
    if not epochs:
        return
    found = Checkpoints(tuple(epochs), frozenset(successful_epochs(folder)), finished)
    decided = choose(choice, found)
    report.notes += [f"{run}{' canary' if place else ''}: {note}" for note in decided.notes]
    if decided.keep:
        report.kept.setdefault(run, []).extend(f"{prefix}{epoch_dir(epoch)}" for epoch in decided.keep)
    for epoch in decided.remove:
        path = folder / epochs[epoch]
        if path.is_symlink():
            raise LinkError(
                f"{path} is a symbolic link (to {os.readlink(path)}); clean removes only checkpoints inside the set, "
                "and nothing was removed",
                hint="remove the link and what it points to yourself, or leave the run out with --runs",
            )
        files, size = _contents(path)
        report.removals.append(Removal(run, f"{prefix}{epochs[epoch]}", epoch, files, size))


def successful_epochs(place: Path) -> set[int]:
    """The epochs of a run (or canary) folder with at least one evaluation record whose log succeeded: the
    checkpoints the results come from."""
    found = set()
    for task in list_folder(place / EVALUATIONS_DIR):
        for name in list_folder(place / EVALUATIONS_DIR / task):
            parsed = parse_evaluation_record(name)
            if parsed is None or parsed[0] in found:
                continue
            record = read_record(place, evaluation_step(task, parsed[0]), parsed[1])
            if record is not None and record.status == "success":
                found.add(parsed[0])
    return found


def _contents(path: Path) -> tuple[tuple[str, ...], int]:
    """Every file under ``path`` (relative to it; links as links, never followed) and their bytes."""
    files: list[str] = []
    size = 0
    pending = [("", str(path))]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append((f"{prefix}{entry.name}/", entry.path))
                continue
            files.append(f"{prefix}{entry.name}")
            with suppress(OSError):
                size += entry.stat(follow_symlinks=False).st_size
    return tuple(sorted(files)), size


def _remove(set_dir: Path, removal: Removal, choice: CheckpointChoice) -> None:
    """Hide, record, then remove one checkpoint folder; see the module's docstring."""
    from expset.fs.inside import folder, remove_tree

    parent, _, name = f"{removal.run}/{removal.hidden or removal.folder}".rpartition("/")
    with folder(set_dir, parent, create=False) as handle:
        if removal.hidden is None:
            if not stat.S_ISDIR(os.lstat(name, dir_fd=handle).st_mode):
                raise LinkError(f"{set_dir / parent / name} is no longer a folder; it was left as it is")
            token = secrets.token_hex(6)
            name_now = removing_dir(removal.epoch, token)
            with _uninterrupted():
                os.rename(name, name_now, src_dir_fd=handle, dst_dir_fd=handle)
                _record(set_dir, removal, token, choice)
            name = name_now
        elif not removal.recorded:
            _record(set_dir, removal, parse_removing_dir(name)[1], choice)  # type: ignore[index]
        try:
            remove_tree(handle, name)
        except OSError as error:
            from expset.errors import WriteError

            raise WriteError(
                f"cannot remove {set_dir / parent / name}: {error.strerror or error}; it is hidden and recorded, "
                "and the next `expset clean` removes what is left of it"
            ) from None


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while a folder is renamed and recorded: the record never misses a rename."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {number: signal.signal(number, lambda signum, frame: held.append(signum)) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if held:
            handler = previous[held[0]]
            if callable(handler):
                handler(held[0], None)  # Python's own raises KeyboardInterrupt; expset's SIGTERM one, Terminated
            elif handler == signal.SIG_DFL:
                raise KeyboardInterrupt


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _record(set_dir: Path, removal: Removal, token: str, choice: CheckpointChoice) -> None:
    """Record ``removal`` (its hidden folder named by ``token``) in the clean record."""
    gone = removal
    record_removal(set_dir, gone.run, gone.folder, gone.epoch, gone.files, gone.size, token, choice.value)

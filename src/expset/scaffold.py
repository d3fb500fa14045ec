"""``expset scaffold``: each run's setup, torchtune config and job scripts, written next to it.

Every file is first planned, then written: a file that would not change is left alone; a file
expset wrote before and nobody touched is updated; a file someone edited is a conflict, and with
any conflict nothing is written unless ``--force``. An edited ``setup_finetune.yaml`` is the
run's source: the derived files follow it. What was generated is recorded (path → SHA-256) in
``.expset/generated.json``, which is how edits are told apart from expset's own output.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from expset.core.layout import (
    CONFIG_FILE,
    DEVIATIONS_RECORD,
    GENERATED_RECORD,
    INPUT_HASHES,
    INPUTS_RECORD,
    LOG_DIR,
    SETUP_FILE,
    STATE_DIR,
    TRAINING_DIGESTS,
    setup_snapshot,
)
from expset.core.naming import ExperimentSet
from expset.core.run_setup import RunSetup, check_set_path, derive_run_setup
from expset.core.site_settings import Site, merge_site
from expset.data_files import count_samples, resolve_data
from expset.errors import ConflictError, SetupError, WriteError
from expset.fs.inside import refuse_links
from expset.inputs import run_inputs
from expset.sets import choose_runs, read_setup


class Action(str, Enum):
    """What scaffold does with one file."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    KEEP_EDITED = "keep edited"  # a setup_finetune.yaml edited by hand: the run's source from now on
    CONFLICT = "conflict"  # edited by hand, would be overwritten: only with --force
    OVERWRITE = "overwrite"  # a conflict, with --force
    REMOVE = "remove"  # generated before, untouched, and no longer generated (an evaluation dropped)


WRITING_ACTIONS = frozenset({Action.CREATE, Action.UPDATE, Action.OVERWRITE, Action.REMOVE})
"""The actions that change a file on disk."""


@dataclass(frozen=True)
class PlannedWrite:
    """One file scaffold would write, keep or remove, with its new text."""

    path: Path
    text: str
    action: Action
    recorded: bool = True  # kept in the generated-files record: a run's own generated file
    state: bool = False  # one of expset's own records in .expset/, not a file of the set's reader


@dataclass(frozen=True)
class ScaffoldPlan:
    """Every file scaffold would write, keep or remove, and notes on set files it leaves alone."""

    writes: list[PlannedWrite]
    notes: list[str]


def scaffold_set(
    experiment_set: ExperimentSet,
    set_dir: Path,
    *,
    profile: Site,
    runs: list[str] | None = None,
    force: bool = False,
) -> ScaffoldPlan:
    """Plan every file of the chosen runs; raise ``ConflictError`` for edits unless ``force``."""
    from expset.provenance import (
        checked_deviations,
        read_deviations,
        read_training_digests,
        render_state,
        set_file_updates,
    )
    from expset.render.run_files import Provenance, RunPlace, run_files

    set_dir = set_dir.absolute()
    check_set_path(str(set_dir))
    site = merge_site(profile, experiment_set.plan.site)
    chosen = choose_runs(experiment_set, runs)
    refuse_links(set_dir, GENERATED_RECORD)
    record = read_generated_record(set_dir)
    task_paths = resolve_tasks(experiment_set, set_dir)  # plans record absolute paths; older ones may not
    recorded_deviations = read_deviations(set_dir)
    deviations: dict[str, dict[str, Any]] = dict(recorded_deviations)
    recorded_digests = read_training_digests(set_dir)
    digests = dict(recorded_digests)
    data_paths: dict[str, str] = {}
    samples: dict[str, int | None] = {}
    planned: list[PlannedWrite] = []
    inputs: set[tuple[str, str]] = set()
    generated_by_run: dict[str, list[str]] = {}
    for path in record:
        generated_by_run.setdefault(path.split("/", 1)[0], []).append(path)
    planned_validation = experiment_set.plan.validation
    validation_path = None
    if planned_validation is not None and planned_validation.file is not None:
        validation_path = resolve_data(planned_validation.file, site, "validation.file")
    for run in chosen:
        run_dir = set_dir / run.name
        setup_path = run_dir / SETUP_FILE
        dataset = str({**experiment_set.plan.fixed, **run.varied}.get("dataset", ""))
        if not run.evaluated_only and dataset not in data_paths:
            data_paths[dataset] = resolve_data(dataset, site, f"run {run.name}: dataset")
            samples[dataset] = None if experiment_set.plan.data.packed else count_samples(data_paths[dataset])
        derived = derive_run_setup(
            experiment_set,
            run,
            site=site,
            data_path="" if run.evaluated_only else data_paths[dataset],  # it trains on nothing
            task_paths=task_paths,
            expand_path=expand_path,
            samples=samples.get(dataset),
            validation_path=validation_path,
        )
        setup, setup_text = derived, render_setup(derived)
        changed: dict[str, Any] = {}
        if setup_path.exists() and _edited(setup_path, record, set_dir) and _read(setup_path) != setup_text:
            setup, setup_text = read_setup(setup_path), setup_path.read_text(encoding="utf-8")
            changed = checked_deviations(set_dir, run, derived, setup, setup_path)
            planned.append(PlannedWrite(setup_path, setup_text, Action.KEEP_EDITED))
        else:
            planned.append(_plan_write(setup_path, setup_text, record, set_dir, force))
            planned.append(_plan_state(set_dir, setup_snapshot(run.name), setup_text))
        deviations[run.name] = changed
        digests[run.name] = setup.training_digest()
        inputs |= run_inputs(experiment_set, run, setup)
        check_prompt_reaches_tasks(setup)
        place = RunPlace(set_name=set_dir.name, run_dir=str(run_dir))
        files = run_files(setup, place, Provenance(setup_digest=digests[run.name], deviations=changed))
        planned.extend(_plan_write(run_dir / path, text, record, set_dir, force) for path, text in files)
        now = {f"{run.name}/{SETUP_FILE}", *(f"{run.name}/{path}" for path, _ in files)}
        planned.extend(_plan_removals(generated_by_run.get(run.name, []), now, record, set_dir))
    updates, notes = set_file_updates(experiment_set, set_dir, recorded_deviations, deviations)
    planned.extend(PlannedWrite(path, text, Action.UPDATE, recorded=False) for path, text in updates)
    if {run: c for run, c in deviations.items() if c} != {run: c for run, c in recorded_deviations.items() if c}:
        planned.append(_plan_state(set_dir, DEVIATIONS_RECORD, render_state(deviations)))
    if digests != recorded_digests:
        planned.append(_plan_state(set_dir, TRAINING_DIGESTS, render_state(digests)))
    input_writes, input_notes = _plan_inputs(set_dir, inputs)
    planned.extend(input_writes)
    notes.extend(input_notes)
    conflicts = [write for write in planned if write.action is Action.CONFLICT]
    if conflicts:
        names = ", ".join(str(write.path.relative_to(set_dir)) for write in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise ConflictError(
            f"{len(conflicts)} generated file(s) were edited by hand: {names}{more}; nothing was written",
            hint="put lasting changes in setup_finetune.yaml (kept and followed), or re-run with --force to "
            "overwrite the edits",
        )
    return ScaffoldPlan(planned, notes)


def apply(planned: list[PlannedWrite], set_dir: Path, on_written: Callable[[PlannedWrite], None] | None = None) -> None:
    """Write the planned files (each atomically), create the log folders, update the record.

    ``on_written`` hears of each file written or removed, so that an interruption can say how far it got.
    """
    set_dir = set_dir.absolute()
    record = read_generated_record(set_dir)
    from expset.fs.inside import folder, remove_file, write_file

    for write in planned:
        relative = write.path.relative_to(set_dir).as_posix()
        if write.action is Action.REMOVE:
            remove_file(set_dir, relative)
            record.pop(relative, None)
            if on_written:
                on_written(write)
            continue
        if write.action in WRITING_ACTIONS:
            write_file(set_dir, relative, write.text)
            if on_written:
                on_written(write)
        if write.action is not Action.KEEP_EDITED and write.recorded:
            record[relative] = digest(write.text)
    run_dirs = {parts[0] for write in planned if len(parts := write.path.relative_to(set_dir).parts) > 1}
    for run_dir in run_dirs - {STATE_DIR}:
        if not os.path.lexists(set_dir / run_dir / LOG_DIR):  # SLURM does not create --output folders
            with folder(set_dir, run_dir) as handle:
                os.mkdir(LOG_DIR, dir_fd=handle)
    write_file(set_dir, GENERATED_RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")


LEADING_FIELDS = {"model": ("name", "folder"), "data": ("path",)}
"""Fields written first in their section of ``setup_finetune.yaml``: what a reader looks for first."""


def render_setup(setup: RunSetup) -> str:
    """The text of a run's ``setup_finetune.yaml``: a header saying how to edit it, then the setup."""
    from expset.render.yaml_text import to_yaml

    header = (
        f"# Inputs of run {setup.run}, written by expset scaffold from the set's plan.\n"
        "# This file is the run's source: edit it and re-run `expset scaffold` to regenerate\n"
        f"# {CONFIG_FILE} and the job scripts from it. An edited file is kept; delete it to start over.\n"
    )
    data = setup.model_dump(mode="json")
    for section, leading in LEADING_FIELDS.items():
        data[section] = {**{key: data[section][key] for key in leading}, **data[section]}
    return header + to_yaml(data)


def expand_path(path: str) -> str:
    """``~`` and ``$VAR`` in a path the profile or plan wrote, as the login shell would expand them."""
    return os.path.expanduser(os.path.expandvars(path))


def resolve_tasks(experiment_set: ExperimentSet, base: Path) -> dict[str, str]:
    """Each evaluation's inspect task as ``/absolute/path/task.py@name``; relative paths from ``base``.

    A plan's relative task paths are made absolute when the plan is read (from the plan file's folder),
    so only a set recorded before that, or an ``expset.yaml`` edited by hand, has relative ones here:
    they are read from the set's folder, where that file is, never from wherever scaffold runs.
    """
    resolved = {}
    for index, evaluation in enumerate(experiment_set.plan.evaluations):
        if evaluation.task is None:
            raise SetupError(
                f"evaluations[{index}] ({evaluation.name}): no task to run",
                hint=f"give it one in the plan: {{name: {evaluation.name}, task: path/to/task.py@task_name}}",
            )
        file, _, name = evaluation.task.rpartition("@")
        path = (base / Path(os.path.expandvars(file)).expanduser()).absolute()
        if not path.is_file():
            raise SetupError(f"evaluations[{index}].task: no file {path}", hint="check the task path")
        resolved[evaluation.name] = f"{path}@{name}"
    return resolved


def check_prompt_reaches_tasks(setup: RunSetup) -> None:
    """Refuse a run whose prompt template a task of it cannot take: evaluated without it, the run would be
    scored on prompts it was never trained with."""
    from expset.render.run_files import PROMPT_TEMPLATE_ARGUMENT
    from expset.task_files import takes_argument

    if setup.prompt.template is None:
        return
    for evaluation in setup.evaluations:
        if not takes_argument(evaluation.task, PROMPT_TEMPLATE_ARGUMENT):
            raise SetupError(
                f"run {setup.run}: evaluations.{evaluation.name}: the task {evaluation.task} takes no "
                f"{PROMPT_TEMPLATE_ARGUMENT} argument, so it cannot be given the run's prompt.template",
                hint=f"add a {PROMPT_TEMPLATE_ARGUMENT}: str | None = None argument to the task that puts each input "
                "in the template (at {input}), or leave prompt.template out",
            )


def read_generated_record(set_dir: Path) -> dict[str, str]:
    """What scaffold wrote before: relative path → SHA-256 of the text."""
    try:
        return json.loads((set_dir / GENERATED_RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise WriteError(f"{set_dir / GENERATED_RECORD} is unreadable: {error}") from None


def digest(text: str) -> str:
    """The SHA-256 of a text, as the generated-files record keeps it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plan_removals(generated: list[str], now: set[str], record: dict[str, str], set_dir: Path) -> list[PlannedWrite]:
    """Files scaffold wrote for a run before and would not write now: removed if nobody edited them
    (else kept), so that ``submit`` never sends a job the setup no longer asks for."""
    removals = []
    for relative in sorted(set(generated) - now):
        path = set_dir / relative
        if path.is_file() and not path.is_symlink() and digest(_read(path)) == record[relative]:
            removals.append(PlannedWrite(path, "", Action.REMOVE))
    return removals


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _plan_inputs(set_dir: Path, found: set[tuple[str, str]]) -> tuple[list[PlannedWrite], list[str]]:
    """The record of the runs' data and task files, with those not recorded yet added (a recorded one is the
    set's reference, never replaced here; see ``inputs``), and the digest cache; with a note when a restored
    set records an input for the first time: that file is not compared with the one the set ran with."""
    from expset.core.archive_members import MANIFEST_MEMBER
    from expset.inputs import DigestCache, digests, read_inputs, render_inputs, with_new_inputs

    cache = DigestCache(set_dir)
    hashed, _ = digests(found, cache)  # a file that cannot be read is check's to report
    recorded = read_inputs(set_dir)
    updated = with_new_inputs(recorded, hashed)
    writes = [_plan_state(set_dir, INPUTS_RECORD, render_inputs(updated))] if updated != recorded else []
    writes += [_plan_state(set_dir, INPUT_HASHES, cache.text())] if cache.changed else []
    first = sorted(set(updated) - set(recorded))
    notes = []
    if first and (set_dir / MANIFEST_MEMBER).is_file():
        notes.append(
            f"{', '.join(first)}: recorded here for the first time — this set was restored from an archive that "
            "held no record of them, so they are not compared with the files it ran with"
        )
    return writes, notes


def _plan_state(set_dir: Path, relative: str, text: str) -> PlannedWrite:
    """A write of one of expset's own state files: only ever written by expset, so never a conflict."""
    path = set_dir / relative
    refuse_links(set_dir, relative)
    if not path.exists():
        return PlannedWrite(path, text, Action.CREATE, recorded=False, state=True)
    action = Action.UNCHANGED if _read(path) == text else Action.UPDATE
    return PlannedWrite(path, text, action, recorded=False, state=True)


def _plan_write(path: Path, text: str, record: dict[str, str], set_dir: Path, force: bool) -> PlannedWrite:
    refuse_links(set_dir, path.relative_to(set_dir).as_posix())
    if not path.exists():
        return PlannedWrite(path, text, Action.CREATE)
    current = path.read_text(encoding="utf-8")
    if current == text:
        return PlannedWrite(path, text, Action.UNCHANGED)
    if not _edited(path, record, set_dir, current):
        return PlannedWrite(path, text, Action.UPDATE)
    return PlannedWrite(path, text, Action.OVERWRITE if force else Action.CONFLICT)


def _edited(path: Path, record: dict[str, str], set_dir: Path, current: str | None = None) -> bool:
    """Whether ``path`` differs from what expset last generated there (or expset never wrote it)."""
    if current is None:
        current = path.read_text(encoding="utf-8")
    return record.get(str(path.relative_to(set_dir))) != digest(current)

"""``expset submit``: each run's fine-tune, then its evaluations once the fine-tune has succeeded.

Idempotent: jobs pending, running or completed are never submitted again; failed, cancelled or
lost ones only with ``--resubmit`` (and only what failed: evaluations of a completed fine-tune go
again on their own). Evaluation jobs scaffolded after their run was submitted are submitted, after
the fine-tune if it is still queued or running. ``--max-jobs`` keeps this set's queued and running
jobs under a cluster's cap; ``--stagger`` spaces submissions out.

One ``submit`` of a set runs at a time (a lock in ``.expset/``). Each job's intent is recorded
before ``sbatch`` runs and the job carries its identity to SLURM, so a submit killed at any point
is reconciled by the next one instead of queueing its jobs twice.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expset import ledger
from expset.arrays import ARRAY_FROM
from expset.clean_record import cleaned_folders
from expset.core.jobs import JobState, plan_submission
from expset.core.layout import (
    FINETUNE_SCRIPT,
    FINETUNE_STEP,
    SETUP_FILE,
    epoch_dir,
    evaluation_script,
    evaluation_step,
    parse_evaluation_step,
    parse_run_dir_assignment,
)
from expset.core.naming import ExperimentSet
from expset.errors import SetupError, SubmitError, UsageError
from expset.fs.set_lock import set_lock
from expset.provenance import read_training_digests
from expset.run_jobs import Step, submit_run
from expset.sets import choose_runs, read_setup
from expset.slurm.client import SlurmClient, job_comment, job_limit, sbatch_argv
from expset.tracking import FAILED_STATES, Tracked, set_key, setup_changed_since, track

if TYPE_CHECKING:
    from expset.canary import Canaries
    from expset.fix_runs import FixReport


@dataclass
class SubmitReport:
    """What a submission did: the jobs submitted per run, the runs skipped or left, and why."""

    submitted: dict[str, list[ledger.Job]] = field(default_factory=dict)  # run → its new jobs
    skipped: dict[str, str] = field(default_factory=dict)  # run → why
    left: list[str] = field(default_factory=list)  # runs kept for a later submit by --max-jobs
    failed: list[str] = field(default_factory=list)  # runs not submitted because jobs of theirs failed
    limit: str | None = None  # SLURM refused a job over this user's job limit (its name): the rest were left
    jobs: dict[str, int] = field(default_factory=dict)  # the set's jobs by state, before this submission
    commands: list[list[str]] = field(default_factory=list)  # --dry-run: what would be run
    notes: list[str] = field(default_factory=list)  # damaged ledger lines, SLURM's complaints, jobs recovered
    error: SubmitError | None = None
    fixed: FixReport | None = None  # --fix: what changed in which run's setup, and the failed runs left as they were
    canaries: Canaries | None = None  # --canary: the canary of each model and what became of it


def run_steps(run_dir: Path) -> list[Step]:
    """A scaffolded run's jobs, as its setup asks for them: the fine-tune (none for a control run), then
    each evaluation of each epoch.

    Refuses a run whose scripts are missing (never scaffolded, or its setup changed since) or were written
    for another folder: a set copied or moved must be scaffolded again before its jobs run, or they would
    write into the old folder.
    """
    scaffold_again = f"run `expset scaffold {run_dir.parent}`"
    if not (run_dir / SETUP_FILE).is_file():
        raise SetupError(f"run {run_dir.name} has no {SETUP_FILE}: it was never scaffolded", hint=scaffold_again)
    setup = read_setup(run_dir / SETUP_FILE)
    steps = [] if setup.evaluated_only else [Step(FINETUNE_STEP, run_dir / FINETUNE_SCRIPT)]
    for evaluation in setup.evaluations:
        for epoch in evaluation.epochs:
            steps.append(
                Step(evaluation_step(evaluation.name, epoch), run_dir / evaluation_script(evaluation.name, epoch))
            )
    missing = [step.script.relative_to(run_dir).as_posix() for step in steps if not step.script.is_file()]
    if missing:
        raise SetupError(
            f"run {run_dir.name}: {SETUP_FILE} asks for {', '.join(missing)}, which scaffold has not written yet; "
            "nothing was submitted",
            hint=scaffold_again,
        )
    here = os.path.realpath(run_dir)
    for step in steps:
        lines = step.script.read_text(encoding="utf-8", errors="replace").splitlines()
        named = next((folder for line in lines if (folder := parse_run_dir_assignment(line)) is not None), None)
        if named is None or os.path.realpath(named) != here:
            raise SetupError(
                f"run {run_dir.name}: {step.script.relative_to(run_dir)} was written for another folder "
                "(the set was moved or copied); nothing was submitted",
                hint=f"{scaffold_again} so that its jobs work here",
            )
    return steps


def submit_set(
    experiment_set: ExperimentSet,
    set_dir: Path,
    client: SlurmClient,
    *,
    runs: list[str] | None = None,
    dry_run: bool = False,
    max_jobs: int | None = None,
    stagger: float = 0.0,
    resubmit: bool = False,
    fix: str | None = None,
    rerun: bool = False,
    canary: bool = False,
    array: bool | None = None,
    throttle: int | None = None,
    profile: Any = None,
    on_submitted: Callable[[str], None] | None = None,
) -> SubmitReport:
    """Submit what each chosen run still needs, under the set's submit lock; see ``plan_submission``.

    Every job is recorded in the ledger as an intent before ``sbatch`` and as submitted after it, so
    nothing is lost or queued twice whatever stops the command. ``on_submitted`` hears of each run whose
    jobs all went through. A refusal by SLURM ends the submission: the refused run's other jobs are
    cancelled, and the error is in the report beside what went through before it.
    """
    set_dir = set_dir.absolute()
    chosen = choose_runs(experiment_set, runs)
    steps = {run.name: run_steps(set_dir / run.name) for run in chosen}
    report = SubmitReport()
    with nullcontext() if dry_run else set_lock(set_dir):
        tracked = track(set_dir, {run.name for run in experiment_set.all_runs}, client)
        if not dry_run:
            tracked.slurm.require_answer()
        report.notes = tracked.notes + [_describe(event) for event in tracked.events if event["event"] == "adopted"]
        if not dry_run:
            ledger.append(set_dir, tracked.events)
        key = set_key(set_dir)
        if fix is not None and not dry_run:
            from expset.fix_runs import fix_failed_runs

            report.fixed = fix_failed_runs(
                experiment_set, set_dir, tracked, fix, named=runs, profile=profile, client=client
            )
            steps.update({run: run_steps(set_dir / run) for run in report.fixed.changed})
        held_by = None
        if canary and dry_run:
            report.notes.append("--canary: a dry run shows neither the canaries nor the hold on the rest")
        if canary and not dry_run:
            from expset.canary import start_canaries

            about_to_train = {run.name for run in chosen if _trains_now(tracked, run.name, resubmit)}
            try:
                report.canaries = start_canaries(
                    experiment_set,
                    set_dir,
                    chosen,
                    tracked,
                    client,
                    key,
                    about_to_train=about_to_train,
                    resubmit=resubmit,
                )
            except SubmitError as error:
                report.limit = job_limit(error.message)
                if report.limit is None:
                    raise
                report.left = [run.name for run in chosen if run.name in about_to_train]
                return report  # SLURM's job limit: the canaries, and all that waits for them, wait for a slot
            held_by = report.canaries.held_by
        active = sum(1 for state in tracked.states.values() if state.active)
        active += sum(len(jobs) for jobs in report.canaries.jobs.values()) if report.canaries else 0
        report.jobs = dict(Counter(tracked.state(run, step).value for run, step in tracked.history))
        digests = read_training_digests(set_dir)
        cleaned = cleaned_folders(set_dir)
        planned = []
        for run in chosen:
            by_name = {step.name: step for step in steps[run.name]}
            finetune_job = tracked.current(run.name, FINETUNE_STEP)
            todo_names, reason, waits_for = plan_submission(
                list(by_name),
                {name: tracked.state(run.name, name) for name in by_name},
                finetune_job.job_id if finetune_job else None,
                resubmit=resubmit,
                fine_tuned=FINETUNE_STEP in by_name,
            )
            if setup_changed_since(tracked, run.name, digests.get(run.name)):
                if rerun:
                    todo_names, reason, waits_for = list(by_name), "", None
                else:  # nothing of it goes again by accident, not even an evaluation of its old checkpoints
                    todo_names, reason = (
                        [],
                        "completed with a setup that has changed since: re-run it on purpose with --rerun",
                    )
            if FINETUNE_STEP not in todo_names and (gone := _cleaned_steps(set_dir / run.name, todo_names, cleaned)):
                todo_names = [name for name in todo_names if name not in gone]
                report.notes.append(
                    f"{run.name}: {', '.join(gone)} not submitted: `expset clean` removed the checkpoint it evaluates"
                )
                reason = reason or "the checkpoints its evaluations need were removed by `expset clean`"
            todo = [by_name[name] for name in todo_names]
            if not todo:
                report.skipped[run.name] = reason
                if not resubmit and any(tracked.state(run.name, name) in FAILED_STATES for name in by_name):
                    report.failed.append(run.name)
                continue
            fresh = len(todo) == len(by_name) and all(
                tracked.state(run.name, name) is JobState.NOT_SUBMITTED for name in by_name
            )
            planned.append((run.name, todo, waits_for, fresh))
        if array or (array is None and sum(fresh for *_, fresh in planned) >= ARRAY_FROM):
            whole = {run: todo for run, todo, _, fresh in planned if fresh}
            planned = [item for item in planned if not item[3]]
            active = _submit_arrays(report, whole, set_dir, client, key, held_by, throttle, max_jobs, active, dry_run)
            if on_submitted:
                for run in report.submitted:
                    on_submitted(run)
        first = True
        for run_name, todo, waits_for, _ in planned if report.error is None else []:
            if max_jobs is not None and len(todo) > max_jobs:
                raise UsageError(
                    f"run {run_name} needs {len(todo)} jobs queued at once (its fine-tune and the evaluations that "
                    f"wait for it), more than --max-jobs {max_jobs}",
                    hint=f"give --max-jobs {len(todo)} or more",
                )
            if report.limit is not None or (max_jobs is not None and active + len(todo) > max_jobs):
                report.left.append(run_name)
                continue
            if dry_run:
                report.commands.extend(_dry_run_commands(run_name, todo, waits_for, key))
                active += len(todo)
                continue
            if not first and stagger > 0:
                time.sleep(stagger)
            first = False
            try:
                report.submitted[run_name] = submit_run(run_name, todo, waits_for, client, set_dir, key, held_by)
            except SubmitError as error:
                report.limit = job_limit(error.message)  # SLURM's cap on this user's queued jobs: wait for slots
                if report.limit is None:
                    report.error = error
                    break
                report.left.append(run_name)
                continue
            if on_submitted:
                on_submitted(run_name)
            active += len(todo)
    return report


def _submit_arrays(
    report: SubmitReport,
    whole: dict[str, list[Step]],
    set_dir: Path,
    client: SlurmClient,
    key: str,
    held_by: str | None,
    throttle: int | None,
    max_jobs: int | None,
    active: int,
    dry_run: bool,
) -> int:
    """Submit the runs that go whole as arrays (see ``arrays``), as many as ``max_jobs`` leaves room for;
    the set's jobs then queued or running."""
    from expset.arrays import group_runs, submit_group

    for group in group_runs(whole):
        room = len(group.runs) if max_jobs is None else max(0, (max_jobs - active) // len(group.steps))
        if room < len(group.runs):
            report.left += list(group.runs[room:])
            group = replace(group, runs=group.runs[:room])
        if not group.runs:
            continue
        if dry_run:
            span = f"0-{len(group.runs) - 1}" + (f"%{throttle}" if throttle else "")
            for index, step in enumerate(group.steps):
                script = set_dir / f"<array of {step} for {len(group.runs)} runs>.slurm"
                after = "<the fine-tune array's id>" if index and group.steps[0] == FINETUNE_STEP else held_by
                report.commands.append(sbatch_argv(script, after, array=span, correspond=bool(index and after)))
            active += len(group.runs) * len(group.steps)
            continue
        try:
            report.submitted.update(
                submit_group(set_dir, group, whole, client, key, held_by=held_by, throttle=throttle)
            )
        except SubmitError as error:
            report.limit = job_limit(error.message)
            if report.limit is None:
                report.error = error
                return active
            report.left += list(group.runs)
            continue
        active += len(group.runs) * len(group.steps)
    return active


def _cleaned_steps(run_dir: Path, steps: list[str], cleaned: dict[str, set[str]]) -> list[str]:
    """The evaluation steps of ``steps`` whose checkpoint ``expset clean`` removed (and no fine-tune wrote again):
    submitted, they could only fail."""
    removed = cleaned.get(run_dir.name, set())
    gone = []
    for step in steps:
        place = parse_evaluation_step(step)
        if place is not None and epoch_dir(place[1]) in removed and not (run_dir / epoch_dir(place[1])).exists():
            gone.append(step)
    return gone


def _trains_now(tracked: Tracked, run: str, resubmit: bool) -> bool:
    """Whether ``run``'s fine-tune is about to be submitted: never yet, or again after it failed."""
    state = tracked.state(run, FINETUNE_STEP)
    return state is JobState.NOT_SUBMITTED or (resubmit and state in FAILED_STATES)


def _describe(event: dict) -> str:
    return f"recovered job {event['job_id']} ({event['run']} {event['step']}) from {event['source']}"


def _dry_run_commands(run: str, todo: list[Step], waits_for: str | None, key: str) -> list[list[str]]:
    resubmits_finetune = any(step.name == FINETUNE_STEP for step in todo)
    after = f"<job id of {run}'s fine-tune>" if resubmits_finetune else waits_for
    return [
        sbatch_argv(
            step.script,
            None if step.name == FINETUNE_STEP else after,
            comment=job_comment(key, "<token>", step.name, run),
        )
        for step in todo
    ]

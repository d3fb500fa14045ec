"""``expset status``: where every run stands, from SLURM (one query for the whole set), the ledger,
and what is on disk — ``epoch_N/`` folders and the record each job left when it ended. Reads no
evaluation log itself, so 10,000 runs take about a second.

Reruns can leave several logs for one run × task × epoch: the latest successful one is the run's
answer, and the others are listed as superseded (they stay on disk).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from expset.clean_record import cleaned_folders
from expset.core.failures import Cause
from expset.core.jobs import JobState, Progress, run_progress
from expset.core.layout import (
    FINETUNE_STEP,
    canary_step,
    parse_canary_step,
    parse_epoch_dir,
    parse_evaluation_step,
    step_output,
)
from expset.core.naming import FINE_TUNED, ExperimentSet
from expset.provenance import read_training_digests
from expset.slurm.client import SlurmClient
from expset.tracking import FAILED_STATES, Tracked, job_failure, list_folder, setup_changed_since, track

__all__ = ["EvaluationStatus", "Progress", "RunStatus", "SetStatus", "set_status", "summary"]


@dataclass
class EvaluationStatus:
    """Where one evaluation of one epoch stands, with the log it chose and the ones it passed over."""

    task: str
    epoch: int
    job: JobState  # the newest attempt's job
    job_id: str
    result: str | None  # the chosen log's status as the job recorded it ("success", "error"…), None before
    log: str | None = None  # the chosen log, relative to the run folder
    superseded: list[str] = field(default_factory=list)  # older logs of the same cell, kept on disk
    failure: str | None = None  # why the newest attempt failed, when it did
    output: str | None = None  # the newest attempt's SLURM output, relative to the set folder (as the run's)


@dataclass
class RunStatus:
    """Where one run stands: its progress, its fine-tune, the epochs on disk and its evaluations."""

    run: str
    kind: str  # fine-tuned, control or evaluation-only
    progress: Progress
    finetune: JobState | None  # None for a run that is evaluated only
    job_id: str | None
    epochs_on_disk: list[int]
    evaluations: list[EvaluationStatus] = field(default_factory=list)
    setup_changed: bool = False  # its fine-tune finished, and its training inputs changed since (then re-scaffolded)
    epochs_cleaned: list[int] = field(default_factory=list)  # removed by `expset clean` (not missing), not on disk now
    failure: str | None = None  # why its fine-tune, else its first evaluation, failed
    fix: str | None = None  # the ``--fix`` that mends that failure, if one does
    output: str | None = None  # the failed job's SLURM output, relative to the set folder: the log to open

    def to_data(self) -> dict[str, Any]:
        """The run's status as plain data, for ``status --json``."""
        data = asdict(self)
        data["progress"] = self.progress.value
        data["finetune"] = self.finetune.value if self.finetune is not None else None
        for evaluation in data["evaluations"]:
            evaluation["job"] = evaluation["job"].value
        return data


@dataclass
class CanaryStatus:
    """Where a run's canary (``submit --canary``) stands, and why it failed when it did."""

    run: str
    progress: Progress
    failure: str | None = None
    output: str | None = None  # the failed job's SLURM output, relative to the set folder


@dataclass
class SetStatus:
    """Every run's status, its canaries', and what could not be read or asked."""

    runs: list[RunStatus]
    notes: list[str]  # what could not be read or asked, one line each
    set_dir: Path = Path()
    canaries: list[CanaryStatus] = field(default_factory=list)


def set_status(experiment_set: ExperimentSet, set_dir: Path, client: SlurmClient) -> SetStatus:
    """Where every run of the set stands, from its ledger, SLURM and the jobs' records."""
    runs = experiment_set.all_runs
    tracked = track(set_dir, {run.name for run in runs}, client)
    steps: dict[str, list[str]] = {}
    for run, step in tracked.history.keys() | tracked.unresolved:
        steps.setdefault(run, []).append(step)
    digests = read_training_digests(set_dir)
    statuses = [
        _run_status(run.name, run.kind, set_dir / run.name, steps.get(run.name, []), tracked, digests.get(run.name))
        for run in runs
    ]
    cleaned = cleaned_folders(set_dir)
    for status in statuses:  # the run's own checkpoints (``canary/epoch_N`` parses as none)
        gone = {parse_epoch_dir(folder) for folder in cleaned.get(status.run, ())}
        status.epochs_cleaned = sorted(e for e in gone if e is not None and e not in status.epochs_on_disk)
    canaries = [
        _canary_status(run, set_dir / run, sorted(found), tracked)
        for run in sorted(steps)
        if (found := [step for step in steps[run] if parse_canary_step(step)])
    ]
    return SetStatus(statuses, tracked.notes, set_dir, canaries)


def _canary_status(run: str, run_dir: Path, steps: list[str], tracked: Tracked) -> CanaryStatus:
    """A canary's progress, as a run's: its fine-tune, then its evaluations with their logs' verdicts."""
    fine_tune = canary_step(FINETUNE_STEP)
    evaluations = []
    for step in steps:
        if step != fine_tune:
            job = tracked.current(run, step)
            record = tracked.records.get(job.job_id or "") if job else None
            evaluations.append((tracked.state(run, step), record is not None and record.status == "success"))
    status = CanaryStatus(run, run_progress(tracked.state(run, fine_tune), evaluations))
    for step in [fine_tune, *(step for step in steps if step != fine_tune)]:
        job = tracked.current(run, step)
        if job is not None and tracked.state(run, step) in FAILED_STATES:
            status.failure = (
                f"{parse_canary_step(step)}: {job_failure(run_dir, step, job.job_id or '', tracked).describe()}"
            )
            status.output = f"{run}/{step_output(step).replace('%j', job.job_id or '')}"
            break
    return status


def _run_status(
    run: str, kind: str, run_dir: Path, steps: list[str], tracked: Tracked, scripts_digest: str | None
) -> RunStatus:
    evaluated_only = kind != FINE_TUNED
    finetune = None if evaluated_only else tracked.state(run, FINETUNE_STEP)
    finetune_job = None if evaluated_only else tracked.current(run, FINETUNE_STEP)
    epochs = sorted(epoch for name in list_folder(run_dir) if (epoch := parse_epoch_dir(name)) is not None)
    evaluations = []
    for step in steps:
        place = parse_evaluation_step(step)
        if place is not None:
            evaluations.append(_evaluation_status(run, run_dir, step, *place, tracked))
    evaluations.sort(key=lambda e: (e.task, e.epoch))
    progress = run_progress(finetune, [(e.job, e.result == "success") for e in evaluations])
    changed = not evaluated_only and setup_changed_since(tracked, run, scripts_digest)
    job_id = finetune_job.job_id if finetune_job else None
    status = RunStatus(run, kind, progress, finetune, job_id, epochs, evaluations, changed)
    if finetune is not None and finetune in FAILED_STATES and finetune_job is not None:
        failure = job_failure(run_dir, FINETUNE_STEP, finetune_job.job_id or "", tracked)
        status.failure, status.fix = failure.describe(), failure.fix
        status.output = f"{run}/{step_output(FINETUNE_STEP).replace('%j', finetune_job.job_id or '')}"
    elif failed := [e for e in evaluations if e.failure and e.result != "success"]:
        status.failure, status.output = f"{failed[0].task}@{failed[0].epoch}: {failed[0].failure}", failed[0].output
    return status


def _evaluation_status(run: str, run_dir: Path, step: str, task: str, epoch: int, tracked: Tracked) -> EvaluationStatus:
    history = tracked.history.get((run, step), [])
    records = [tracked.records[job.job_id] for job in history if job.job_id in tracked.records]
    successes = [record for record in records if record.status == "success"]
    chosen = successes[-1] if successes else (records[-1] if records else None)
    current = history[-1].job_id if history else ""
    state = tracked.state(run, step)
    failure = None
    if state in FAILED_STATES or (state is JobState.COMPLETED and records and records[-1].status != "success"):
        found = job_failure(run_dir, step, current or "", tracked)
        last_status = records[-1].status if records and records[-1].job_id == current else None
        failure = found.describe() if found.cause is not Cause.ERROR or not last_status else f"log {last_status}"
    return EvaluationStatus(
        task=task,
        epoch=epoch,
        job=state,
        job_id=current or "",
        result=chosen.status if chosen else None,
        log=chosen.log if chosen else None,
        superseded=[record.log for record in records if record is not chosen and record.log],
        failure=failure,
        output=f"{run}/{step_output(step).replace('%j', current)}" if failure and current else None,
    )


def summary(statuses: list[RunStatus]) -> dict[str, int]:
    """How many runs are at each stage of progress."""
    counts = {progress.value: 0 for progress in Progress}
    for status in statuses:
        counts[status.progress.value] += 1
    return counts

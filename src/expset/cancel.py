"""``expset cancel``: stop a set's queued and running jobs (all, or some runs'), and say so in its ledger.

Runs under the set's submit lock, so a submit cannot queue jobs while their runs are being cancelled.
Only jobs SLURM says are pending or running are asked to stop; what already ended is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from expset import ledger
from expset.core.naming import ExperimentSet
from expset.errors import SubmitError
from expset.fs.set_lock import set_lock
from expset.sets import choose_runs
from expset.slurm.client import SlurmClient
from expset.tracking import track


@dataclass(frozen=True)
class ActiveJob:
    """A queued or running job of a run's step."""

    run: str
    step: str
    job_id: str
    state: str


@dataclass
class CancelReport:
    """The jobs asked to stop, and the notes from reading the set's jobs."""

    jobs: list[ActiveJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False


def cancel_set(
    experiment_set: ExperimentSet,
    set_dir: Path,
    client: SlurmClient,
    runs: list[str] | None,
    confirm: Callable[[list[ActiveJob]], bool],
) -> CancelReport:
    """Cancel the chosen runs' pending and running jobs once ``confirm`` approves the list of them.

    ``SubmitError`` when ``scancel`` refuses; ``cancelled`` stays False when ``confirm`` declined.
    """
    set_dir = set_dir.absolute()
    chosen = {run.name for run in choose_runs(experiment_set, runs)} if runs else None
    if chosen is None:  # the whole set: runs whose folder was deleted too, their jobs may run on
        chosen = {run.name for run in (*experiment_set.all_runs, *experiment_set.missing)}
    with set_lock(set_dir):
        jobs, notes = _active_jobs(experiment_set, set_dir, client, chosen)
        report = CancelReport(jobs=jobs, notes=notes)
        if not report.jobs or not confirm(report.jobs):
            return report
        refused = client.run_cancel([job.job_id for job in report.jobs])
        if refused is not None:
            raise SubmitError(f"scancel refused: {refused}; the jobs may still run", hint="see `expset status`")
        ledger.append(set_dir, [ledger.cancelled(job.run, job.step, job.job_id) for job in report.jobs])
        report.cancelled = True
    return report


def _active_jobs(
    experiment_set: ExperimentSet, set_dir: Path, client: SlurmClient, chosen: set[str]
) -> tuple[list[ActiveJob], list[str]]:
    """The pending and running jobs of the runs ``chosen``, and the notes from reading the set's jobs; raises
    when SLURM does not answer. The jobs of runs whose folder was deleted are tracked too: they may run on."""
    tracked = track(set_dir, {run.name for run in (*experiment_set.all_runs, *experiment_set.missing)}, client)
    tracked.slurm.require_answer()
    ledger.append(set_dir, tracked.events)
    jobs = []
    for (run, step), history in sorted(tracked.history.items()):
        for job in history if run in chosen else []:
            state = tracked.states.get(job.job_id or "")
            if job.job_id and state is not None and state.active:
                jobs.append(ActiveJob(run, step, job.job_id, state.value))
    return jobs, tracked.notes

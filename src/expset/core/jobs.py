"""Job states as expset reports them, how SLURM's many state names map onto them, and how a job's
state is settled when SLURM has forgotten it. Pure."""

from __future__ import annotations

from enum import Enum


class JobState(str, Enum):
    """Where one job stands, as expset settles it from SLURM's word and the job's own record."""

    NOT_SUBMITTED = "not submitted"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"  # SLURM has forgotten it and it left no outcome on disk: it may be submitted again
    UNKNOWN = "unknown"  # SLURM could not be asked, or named a state expset does not know: never guessed

    @property
    def active(self) -> bool:
        """Queued or running: submitting it again would run it twice."""
        return self in (JobState.PENDING, JobState.RUNNING)


SLURM_STATES = {
    "PENDING": JobState.PENDING,
    "CONFIGURING": JobState.PENDING,
    "REQUEUED": JobState.PENDING,
    "REQUEUE_HOLD": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING,
    "RESV_DEL_HOLD": JobState.PENDING,
    "SUSPENDED": JobState.PENDING,
    "STOPPED": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "TIMEOUT": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED,
    "NODE_FAIL": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "DEADLINE": JobState.FAILED,
    "PREEMPTED": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED,
    "REVOKED": JobState.CANCELLED,
    "CANCELLED": JobState.CANCELLED,
}


def job_state(slurm_state: str) -> JobState:
    """``CANCELLED by 0`` → CANCELLED; an unknown name → UNKNOWN."""
    name = slurm_state.strip().split(" ")[0].rstrip("+").upper()
    return SLURM_STATES.get(name, JobState.UNKNOWN)


def settle(slurm: JobState | None, exit_code: int | None, *, slurm_answered: bool) -> JobState:
    """A job's state from what SLURM says (None: it no longer lists the job) and the exit status the
    job recorded on disk (None: no record).

    SLURM's word wins while it has one; once it has forgotten the job (``MinJobAge`` on a cluster
    without accounting), the job's own record decides; with neither, the job is lost — unless SLURM
    could not be asked at all, and then nobody knows.
    """
    if slurm is not None:
        return slurm
    if exit_code is not None:
        return JobState.COMPLETED if exit_code == 0 else JobState.FAILED
    return JobState.LOST if slurm_answered else JobState.UNKNOWN


class Progress(str, Enum):
    """Where a run stands as a whole."""

    COMPLETE = "complete"
    RUNNING = "running"
    PENDING = "pending"
    FAILED = "failed"
    LOST = "lost"
    NOT_SUBMITTED = "not submitted"
    UNKNOWN = "unknown"


def run_progress(finetune: JobState | None, evaluations: list[tuple[JobState, bool]]) -> Progress:
    """A run's progress from its fine-tune and, per evaluation, its current job and whether a log succeeded.

    A job still queued or running keeps its run so; otherwise an evaluation with a successful log is
    done, whatever became of a later attempt. A control run (``finetune`` None) fine-tunes nothing: it
    stands where its evaluations stand.
    """
    if finetune is None:
        submitted = any(job is not JobState.NOT_SUBMITTED for job, _ in evaluations)
        finetune = JobState.COMPLETED if submitted else JobState.NOT_SUBMITTED
    if finetune is JobState.NOT_SUBMITTED:
        return Progress.NOT_SUBMITTED
    current = [finetune, *(job for job, _ in evaluations)]
    unfinished = [finetune, *(job for job, succeeded in evaluations if not succeeded)]
    if any(job in (JobState.FAILED, JobState.CANCELLED) for job in unfinished):
        return Progress.FAILED
    if any(job is JobState.RUNNING for job in current):
        return Progress.RUNNING
    if any(job is JobState.PENDING for job in current):
        return Progress.PENDING
    if any(job is JobState.LOST for job in unfinished):
        return Progress.LOST
    if finetune is JobState.COMPLETED and len(unfinished) == 1:
        return Progress.COMPLETE
    return Progress.UNKNOWN


def plan_submission(
    steps: list[str],
    states: dict[str, JobState],
    finetune_job: str | None,
    *,
    resubmit: bool,
    fine_tuned: bool = True,
) -> tuple[list[str], str, str | None]:
    """What of one run to submit: (steps, why nothing when empty, the fine-tune job new evaluations wait for).

    ``steps`` starts with the fine-tune, unless the run is a control (``fine_tuned`` false), whose
    evaluations stand alone; ``states`` holds each step's current job state. Nothing queued, running or
    done is submitted again; what failed, was cancelled or got lost goes again only with ``resubmit``; a
    fine-tune whose state nobody knows blocks its run.
    """
    retry = (JobState.FAILED, JobState.CANCELLED, JobState.LOST)
    again = [step for step in steps if states[step] in retry]
    if not fine_tuned:
        new = [step for step in steps if states[step] is JobState.NOT_SUBMITTED]
        if again and not resubmit:
            return [], f"{len(again)} job(s) failed, were cancelled or lost: submit again with --resubmit", None
        todo = [step for step in steps if step in again or step in new]
        return todo, "" if todo else "every evaluation is submitted", None
    finetune = states[steps[0]]
    if finetune is JobState.NOT_SUBMITTED:
        return steps, "", None
    if finetune is JobState.UNKNOWN:
        return [], "fine-tune state unknown to SLURM; check with squeue/sacct before resubmitting", None
    new = [step for step in steps[1:] if states[step] is JobState.NOT_SUBMITTED]
    if again and not resubmit:
        return [], f"{len(again)} job(s) failed, were cancelled or lost: submit again with --resubmit", None
    if finetune in retry:
        return steps, "", None  # the fine-tune itself goes again, and every evaluation after it
    todo = [step for step in steps if step in again or step in new]
    if not todo:
        return [], f"fine-tune {finetune.value}", None
    return todo, "", finetune_job if finetune.active else None

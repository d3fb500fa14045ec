"""Job states as expset reports them, and how SLURM's many state names map onto them. Pure."""

from __future__ import annotations

from enum import Enum


class JobState(str, Enum):
    NOT_SUBMITTED = "not submitted"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # SLURM did not say (no longer listed, no accounting): shown as such, never guessed

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

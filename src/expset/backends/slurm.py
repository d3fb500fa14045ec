"""SLURM: argv builders and parsers (pure), and a client that runs them through a ``Runner``.

Machine formats only: ``sbatch --parsable``, ``squeue --noheader --format`` with an explicit
separator, ``sacct --parsable2``. One ``squeue`` call covers every job of a set; ``sacct`` is asked
only about jobs ``squeue`` no longer lists, and a cluster without accounting answers "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from expset.backends.runner import Runner, ToolMissingError
from expset.core.status import JobState, job_state
from expset.errors import ExitCode, ExpsetError

_JOB_ID = re.compile(r"^(\d+)(?:;\S+)?$")


class SubmitError(ExpsetError):
    """Raised when sbatch refuses a job script; carries SLURM's own message."""

    exit_code = ExitCode.SUBMIT_FAILED


def sbatch_argv(script: Path, after: str | None = None) -> list[str]:
    """Submit ``script``; with ``after``, only once that job has succeeded, and never if it failed."""
    argv = ["sbatch", "--parsable"]
    if after is not None:
        argv += [f"--dependency=afterok:{after}", "--kill-on-invalid-dep=yes"]
    return [*argv, str(script)]


def parse_job_id(stdout: str) -> str | None:
    """The job id ``sbatch --parsable`` printed (``1234`` or ``1234;cluster``), or None."""
    lines = stdout.strip().splitlines()
    match = _JOB_ID.match(lines[-1].strip()) if lines else None
    return match.group(1) if match else None


def squeue_argv() -> list[str]:
    """All of this user's jobs SLURM still holds, finished ones included, in one call."""
    return ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T"]


def sacct_argv(job_ids: Iterable[str], *, completion_log: bool = False) -> list[str]:
    """``sacct`` on the accounting database, or with ``completion_log`` on the job-completion file."""
    return [
        "sacct",
        *(["--completion"] if completion_log else []),
        "--noheader",
        "--parsable2",
        "--format=JobID,State",
        f"--jobs={','.join(job_ids)}",
    ]


def parse_states(stdout: str) -> dict[str, JobState]:
    """``id|STATE`` lines (squeue or sacct) → states; job steps (``12.batch``) are skipped."""
    states = {}
    for line in stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id and state and "." not in job_id:
            states[job_id] = job_state(state)
    return states


class SlurmClient:
    """The SLURM commands expset uses, run through ``runner``."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def submit(self, script: Path, *, after: str | None = None) -> str:
        done = self.runner.run(sbatch_argv(script, after), cwd=script.parent, timeout=120)
        job_id = parse_job_id(done.stdout) if done.returncode == 0 else None
        if job_id is None:
            raise SubmitError(f"sbatch refused {script}: {done.message}", hint="fix the script or the profile")
        return job_id

    def cancel(self, job_ids: list[str]) -> None:
        if job_ids:
            self.runner.run(["scancel", *job_ids], timeout=60)

    def states(self, job_ids: list[str]) -> dict[str, JobState]:
        """Every job's state: UNKNOWN for jobs SLURM no longer knows about, or when SLURM is absent."""
        if not job_ids:
            return {}
        try:
            return self._states(job_ids)
        except ToolMissingError:
            return dict.fromkeys(job_ids, JobState.UNKNOWN)

    def _states(self, job_ids: list[str]) -> dict[str, JobState]:
        wanted = set(job_ids)
        done = self.runner.run(squeue_argv(), timeout=60)
        states = {k: v for k, v in parse_states(done.stdout).items() if k in wanted} if done.returncode == 0 else {}
        for completion_log in (False, True):  # the accounting database, then the job-completion file
            missing = [job_id for job_id in job_ids if job_id not in states]
            for chunk in _chunks(missing, 500):  # keep argv well below the system limit
                done = self.runner.run(sacct_argv(chunk, completion_log=completion_log), timeout=60)
                if done.returncode != 0:
                    break  # this source cannot answer (no accounting, no completion log): ask the next
                states.update(parse_states(done.stdout))
        return {job_id: states.get(job_id, JobState.UNKNOWN) for job_id in job_ids}


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]

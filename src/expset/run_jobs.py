"""Submitting one run's jobs: each recorded in the ledger as an intent before ``sbatch`` and as submitted
after it, the fine-tune first and its evaluations after it; a refusal withdraws what went through."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from expset import ledger
from expset.core.layout import FINETUNE_STEP, parse_canary_step
from expset.errors import SubmitError
from expset.slurm.client import SlurmClient, job_comment


@dataclass(frozen=True)
class Step:
    """One job of a run: its ledger step name and its script."""

    name: str  # ledger step: "finetune" or "evaluate/<task>/epoch_<N>"
    script: Path


def submit_run(
    run: str,
    todo: list[Step],
    waits_for: str | None,
    client: SlurmClient,
    set_dir: Path,
    key: str,
    held_by: str | None = None,
) -> list[ledger.Job]:
    """Submit one run's steps, the fine-tune first; if SLURM refuses one, cancel what went through.

    Evaluations wait for the fine-tune (``waits_for``, when it was submitted earlier); a job that would wait
    for nothing waits for ``held_by`` instead (the canaries' jobs, ``id:id:…``), when given.
    """
    jobs = [
        ledger.Job(
            run=run,
            step=step.name,
            token=ledger.new_token(),
            time=ledger.now(),
            script=str(step.script.relative_to(set_dir)),
            script_sha256=hashlib.sha256(step.script.read_bytes()).hexdigest(),
        )
        for step in todo
    ]
    ledger.append(set_dir, [ledger.intent(job) for job in jobs])
    done: list[ledger.Job] = []
    try:
        after = waits_for
        for job, step in zip(jobs, todo, strict=True):
            fine_tune = (parse_canary_step(step.name) or step.name) == FINETUNE_STEP
            waits = None if fine_tune else after
            comment = job_comment(key, job.token, job.step, run)
            job_id = client.submit(step.script, after=waits or held_by, comment=comment)
            if fine_tune:
                after = job_id
            done.append(replace(job, job_id=job_id, after=waits, held_by=None if waits else held_by))
    except SubmitError:
        _withdraw(set_dir, client, jobs, done)
        raise
    except BaseException:  # Ctrl-C: record what went through; the next submit or status reconciles the rest
        _record_submitted(set_dir, done)
        raise
    _record_submitted(set_dir, done)
    return done


def _withdraw(set_dir: Path, client: SlurmClient, jobs: list[ledger.Job], done: list[ledger.Job]) -> None:
    """After ``sbatch`` failed for ``jobs[len(done)]``: cancel the run's jobs that went through.

    Jobs cancelled and jobs never tried are abandoned. The job whose ``sbatch`` failed stays an open
    intent: SLURM may have queued it all the same (``sbatch`` timing out under load), and the next
    submit or status looks for it in ``squeue`` by its token. Jobs that could not be cancelled stay
    recorded as submitted.
    """
    cancelled = client.cancel([job.job_id for job in done if job.job_id])
    if not cancelled:
        _record_submitted(set_dir, done)
    withdrawn = (done if cancelled else []) + jobs[len(done) + 1 :]
    ledger.append(set_dir, [ledger.abandoned(job.token, "another job of its run was refused") for job in withdrawn])


def _record_submitted(set_dir: Path, jobs: list[ledger.Job]) -> None:
    ledger.append(set_dir, [ledger.submitted(job, job.job_id, job.after, job.held_by) for job in jobs if job.job_id])

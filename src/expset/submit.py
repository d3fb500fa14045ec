"""``expset submit``: each run's fine-tune, then its evaluations once the fine-tune has succeeded.

Idempotent: jobs pending, running or completed are never submitted again; failed or cancelled
ones only with ``--resubmit`` (and only what failed: evaluations of a completed fine-tune go again
on their own). Evaluation jobs scaffolded after their run was submitted are submitted, after the
fine-tune if it is still queued or running. ``--max-jobs`` keeps this set's queued and
running jobs under a cluster's cap; ``--stagger`` spaces submissions out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from expset import ledger
from expset.backends.slurm import SlurmClient, SubmitError, sbatch_argv
from expset.core.naming import ExperimentSet
from expset.core.setup import SetupError
from expset.core.status import JobState
from expset.render.jobs import FINETUNE_SCRIPT
from expset.sets import choose_runs

_EVALUATION_SCRIPT = re.compile(r"evaluate_epoch_(\d+)\.slurm")


@dataclass(frozen=True)
class Step:
    name: str  # ledger step: "finetune" or "evaluate/<task>/epoch_<N>"
    script: Path


@dataclass
class SubmitReport:
    submitted: dict[str, list[ledger.Entry]] = field(default_factory=dict)  # run → its new jobs
    skipped: dict[str, str] = field(default_factory=dict)  # run → why
    left: list[str] = field(default_factory=list)  # runs kept for a later submit by --max-jobs
    commands: list[list[str]] = field(default_factory=list)  # --dry-run: what would be run
    error: SubmitError | None = None


def run_steps(run_dir: Path) -> list[Step]:
    """A scaffolded run's jobs, from its folder: the fine-tune, then each evaluation job."""
    finetune = run_dir / FINETUNE_SCRIPT
    if not finetune.is_file():
        raise SetupError(f"run {run_dir.name} has no {FINETUNE_SCRIPT}", hint=f"run `expset scaffold {run_dir.parent}`")
    steps = [Step(ledger.FINETUNE, finetune)]
    for script in sorted((run_dir / "evaluations").glob("*/evaluate_epoch_*.slurm")):
        epoch = int(_EVALUATION_SCRIPT.fullmatch(script.name).group(1))  # type: ignore[union-attr]
        steps.append(Step(ledger.evaluation_step(script.parent.name, epoch), script))
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
) -> SubmitReport:
    set_dir = set_dir.absolute()
    chosen = choose_runs(experiment_set, runs)
    steps = {run.name: run_steps(set_dir / run.name) for run in chosen}
    jobs = ledger.current(ledger.read(set_dir))
    states = client.states(sorted({entry.job_id for entry in jobs.values()}))
    active = sum(1 for state in states.values() if state.active)
    report = SubmitReport()
    first = True
    for run in chosen:
        todo, reason, waits_for = _steps_to_submit(run.name, steps[run.name], jobs, states, resubmit)
        if not todo:
            report.skipped[run.name] = reason
            continue
        if max_jobs is not None and active + len(todo) > max_jobs:
            report.left.append(run.name)
            continue
        if dry_run:
            report.commands.extend(_dry_run_commands(run.name, todo, waits_for))
            active += len(todo)
            continue
        if not first and stagger > 0:
            time.sleep(stagger)
        first = False
        try:
            report.submitted[run.name] = _submit_run(run.name, todo, waits_for, client, set_dir)
        except SubmitError as error:
            report.error = error
            break
        ledger.append(set_dir, report.submitted[run.name])
        active += len(todo)
    return report


def _steps_to_submit(
    run: str, steps: list[Step], jobs: dict[tuple[str, str], ledger.Entry], states: dict[str, JobState], resubmit: bool
) -> tuple[list[Step], str, str | None]:
    """What of ``run`` to submit, why not if nothing, and the fine-tune job new evaluations wait for."""

    def state(step: Step) -> JobState:
        entry = jobs.get((run, step.name))
        return states.get(entry.job_id, JobState.UNKNOWN) if entry else JobState.NOT_SUBMITTED

    finetune = state(steps[0])
    if finetune is JobState.NOT_SUBMITTED:
        return steps, "", None
    if finetune is JobState.UNKNOWN:
        return [], "fine-tune state unknown to SLURM; check with squeue/sacct before resubmitting", None
    finetune_job = jobs[(run, ledger.FINETUNE)].job_id
    new = [step for step in steps[1:] if state(step) is JobState.NOT_SUBMITTED]
    failed = [step for step in steps if state(step) in (JobState.FAILED, JobState.CANCELLED)]
    if failed and not resubmit:
        return [], f"{len(failed)} job(s) failed or were cancelled: submit again with --resubmit", None
    if finetune in (JobState.FAILED, JobState.CANCELLED):
        return steps, "", None  # the fine-tune itself goes again, and every evaluation after it
    todo = [step for step in steps if step in failed or step in new]
    if not todo:
        return [], f"fine-tune {finetune.value}", None
    return todo, "", finetune_job if finetune.active else None


def _submit_run(
    run: str, todo: list[Step], waits_for: str | None, client: SlurmClient, set_dir: Path
) -> list[ledger.Entry]:
    """Submit one run's steps; if SLURM refuses one, cancel what went through and record nothing."""
    entries: list[ledger.Entry] = []
    finetune = next((step for step in todo if step.name == ledger.FINETUNE), None)
    try:
        after = waits_for
        if finetune is not None:
            after = client.submit(finetune.script)
            entries.append(_entry(run, finetune, after, None, set_dir))
        for step in todo:
            if step is not finetune:
                job_id = client.submit(step.script, after=after)
                entries.append(_entry(run, step, job_id, after, set_dir))
    except SubmitError:
        client.cancel([entry.job_id for entry in entries])
        raise
    return entries


def _entry(run: str, step: Step, job_id: str, after: str | None, set_dir: Path) -> ledger.Entry:
    return ledger.Entry(
        run=run,
        step=step.name,
        job_id=job_id,
        time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        script=str(step.script.relative_to(set_dir)),
        script_sha256=hashlib.sha256(step.script.read_bytes()).hexdigest(),
        after=after,
    )


def _dry_run_commands(run: str, todo: list[Step], waits_for: str | None) -> list[list[str]]:
    resubmits_finetune = any(step.name == ledger.FINETUNE for step in todo)
    after = f"<job id of {run}'s fine-tune>" if resubmits_finetune else waits_for
    return [sbatch_argv(step.script, None if step.name == ledger.FINETUNE else after) for step in todo]

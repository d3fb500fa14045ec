"""``submit --canary``: per model, the heaviest run's canary goes first, and SLURM holds the rest of the set
until it has succeeded (``afterok`` on every canary job, with ``--kill-on-invalid-dep``: a canary that fails
cancels what waits for it, with no process of expset's left waiting).

A canary that succeeded is not run again; one still queued or running is waited for again; one that
failed goes again with the set's next ``submit --canary``. Its files are written into the run's
``canary/`` folder when it is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from expset import ledger
from expset.core.canary import heaviest_runs
from expset.core.jobs import JobState
from expset.core.layout import (
    CANARY_DIR,
    FINETUNE_STEP,
    SETUP_FILE,
    canary_step,
    evaluation_step,
    step_output,
)
from expset.core.naming import FINE_TUNED, ExperimentSet, Run
from expset.errors import SubmitError
from expset.run_jobs import Step, submit_run
from expset.sets import read_setup
from expset.slurm.client import SlurmClient
from expset.tracking import FAILED_STATES, Tracked, job_failure


@dataclass
class Canaries:
    """The canaries of a submission: per model, its run and what became of it; and the jobs the set waits for."""

    runs: dict[str, str] = field(default_factory=dict)  # model → run
    states: dict[str, str] = field(default_factory=dict)  # run → "passed", "waiting" or "submitted"
    held_by: str | None = None  # id:id:… of the canary jobs the set's jobs wait for
    jobs: dict[str, list[ledger.Job]] = field(default_factory=dict)  # run → its canary's jobs submitted now


def canary_steps(run_dir: Path) -> list[str]:
    """The ledger steps of a run's canary: its fine-tune, then each evaluation of its one epoch."""
    setup = read_setup(run_dir / SETUP_FILE)
    return [canary_step(FINETUNE_STEP)] + [canary_step(evaluation_step(e.name, 0)) for e in setup.evaluations]


def start_canaries(
    experiment_set: ExperimentSet,
    set_dir: Path,
    chosen: list[Run],
    tracked: Tracked,
    client: SlurmClient,
    key: str,
    *,
    about_to_train: set[str],
    resubmit: bool,
) -> Canaries:
    """Submit the canary of each model among the runs ``about_to_train``, unless it passed or is under way.

    A model keeps the canary it had (one submitted by an earlier ``submit --canary``, or an earlier round of
    ``--follow``); a model without one gets its heaviest run about to train. The set waits for the canary
    jobs still queued or running. A canary that failed goes again only with ``resubmit``; otherwise
    ``SubmitError`` says why it failed, and nothing more is submitted.
    """
    from expset.render.run_files import Provenance, RunPlace, canary_files

    setups = {
        run.name: read_setup(set_dir / run.name / SETUP_FILE)
        for run in chosen
        if run.kind == FINE_TUNED and run.name in about_to_train
    }
    earlier = {}
    for run in sorted({run for run, step in tracked.history if step == canary_step(FINETUNE_STEP)}):
        earlier[read_setup(set_dir / run / SETUP_FILE).model.name] = run
    needed = heaviest_runs(setups)
    canaries = Canaries(runs={model: earlier.get(model, run) for model, run in needed.items()})
    held: list[str] = []
    for run in sorted(canaries.runs.values()):
        steps = canary_steps(set_dir / run)
        states = [tracked.state(run, step) for step in steps]
        if all(state is JobState.COMPLETED for state in states) and _evaluations_succeeded(tracked, run, steps):
            canaries.states[run] = "passed"
            continue
        if any(state.active for state in states) and not any(state in FAILED_STATES for state in states):
            canaries.states[run] = "waiting"
            for step, state in zip(steps, states, strict=True):
                job = tracked.current(run, step)
                if state.active and job is not None and job.job_id:
                    held.append(job.job_id)  # ended jobs may be forgotten by SLURM: an afterok on them is refused
            continue
        failed = [step for step, state in zip(steps, states, strict=True) if state in FAILED_STATES]
        if failed and not resubmit:
            job = tracked.current(run, failed[0])
            why = job_failure(set_dir / run, failed[0], job.job_id if job and job.job_id else "", tracked)
            raise SubmitError(
                f"the canary of run {run} failed ({failed[0]}: {why.describe()}), so nothing more was submitted",
                hint=f"see `expset status {set_dir}`; fix it, then submit again with --canary --resubmit",
            )
        setup = setups.get(run) or read_setup(set_dir / run / SETUP_FILE)
        place = RunPlace(set_name=set_dir.name, run_dir=str(set_dir / run))
        _write(set_dir, run, canary_files(setup, place, Provenance(setup_digest=setup.training_digest())))
        todo = [Step(step, set_dir / run / _script(step)) for step in steps]
        canaries.jobs[run] = submit_run(run, todo, None, client, set_dir, key)
        held += [job.job_id or "" for job in canaries.jobs[run]]
        canaries.states[run] = "submitted"
    canaries.held_by = ":".join(held) or None
    return canaries


def _evaluations_succeeded(tracked: Tracked, run: str, steps: list[str]) -> bool:
    for step in steps[1:]:
        job = tracked.current(run, step)
        record = tracked.records.get(job.job_id or "") if job else None
        if record is None or record.status != "success":
            return False
    return True


def _script(step: str) -> str:
    """A canary step's job script, relative to the run folder."""
    from expset.core.layout import FINETUNE_SCRIPT, evaluation_script, parse_canary_step, parse_evaluation_step

    inner = parse_canary_step(step) or step
    place = parse_evaluation_step(inner)
    return f"{CANARY_DIR}/{FINETUNE_SCRIPT if place is None else evaluation_script(*place)}"


def _write(set_dir: Path, run: str, files: list[tuple[str, str]]) -> None:
    """The canary's files, each written whole, and the folders its jobs' SLURM output goes to (SLURM does not
    create them)."""
    from expset.fs.inside import folder, write_file

    for path, text in files:
        write_file(set_dir, f"{run}/{path}", text)
    for step in canary_steps(set_dir / run):
        with folder(set_dir, f"{run}/{step_output(step).rpartition('/')[0]}"):
            pass

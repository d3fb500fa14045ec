"""Submitting many runs as SLURM job arrays: one ``sbatch`` per step kind instead of one per job.

Runs whose jobs ask for the same resources are grouped; each step (the fine-tune, then each evaluation
of an epoch) of a group becomes one array whose task *i* runs the *i*-th run's own job script, unchanged
and still readable, with its output where that script's own ``--output`` would put it. Each task of an
evaluation array waits for the task of the same index of the fine-tune array (``aftercorr``), so one
run's evaluations start as soon as its own fine-tune has succeeded, and die with it if it fails. A
``%N`` throttle caps how many tasks of an array run at once.

Every task is a job of its own to expset: the ledger records one intent per run and step before
``sbatch`` (its token is the array's token and the task's index, which SLURM's comment and ``squeue
--array`` give back), and the job id ``<array>_<index>`` after. A run of an array that fails is
resubmitted on its own, with its own script, like any other.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from expset import ledger
from expset.core.layout import FINETUNE_STEP, STATE_DIR, step_output
from expset.errors import SubmitError
from expset.run_jobs import Step
from expset.slurm.client import SlurmClient, job_comment

ARRAYS_DIR = f"{STATE_DIR}/arrays"
"""Where the scripts of the arrays a set was submitted as are written (one small dispatcher each)."""
ARRAY_FROM = 100
"""Runs submitted whole at once from which ``submit`` uses arrays unless told otherwise."""
ARRAY_RUN = "*"
"""The run named in an array's comment: an array holds many runs (``*`` is in no run's name)."""
_JOB_OPTIONS_OF_THEIR_OWN = ("--job-name=", "--output=", "--error=")


@dataclass(frozen=True)
class ArrayGroup:
    """Runs whose jobs ask for the same: one array per step, the runs in the same order in each."""

    runs: tuple[str, ...]
    steps: tuple[str, ...]  # the fine-tune first (none for runs evaluated only), then each evaluation


def resources(script: Path) -> tuple[str, ...]:
    """A job script's ``#SBATCH`` options, but those naming the job itself (its name, its output)."""
    lines = script.read_text(encoding="utf-8").splitlines()
    options = [line.removeprefix("#SBATCH").strip() for line in lines if line.startswith("#SBATCH ")]
    return tuple(option for option in options if not option.startswith(_JOB_OPTIONS_OF_THEIR_OWN))


def group_runs(todo: dict[str, list[Step]]) -> list[ArrayGroup]:
    """Runs (each with its steps to submit, all of them) grouped by their steps and every step's resources."""
    groups: dict[tuple, list[str]] = {}
    for run, steps in todo.items():
        key = tuple((step.name, resources(step.script)) for step in steps)
        groups.setdefault(key, []).append(run)
    return [ArrayGroup(tuple(runs), tuple(name for name, _ in key)) for key, runs in groups.items()]


def dispatcher(set_dir: Path, group: ArrayGroup, step: str, scripts: list[Path]) -> str:
    """The array's script: the members' resources, then task *i* runs the *i*-th script, its output where
    that script's own ``--output`` says (``%j`` being the task's id, ``<array>_<index>``)."""
    options = resources(scripts[0])
    outputs = [f"{set_dir / run}/{step_output(step)}" for run in group.runs]
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={step.replace('/', '.')}[{len(group.runs)}]@{set_dir.name}",
        f"#SBATCH --output={set_dir}/{ARRAYS_DIR}/%A_%a.out",
        *(f"#SBATCH {option}" for option in options),
        "# An array of expset: task i runs the i-th run's own job script below, unchanged, as its own job",
        f"# would; {step} of {len(group.runs)} runs of set {set_dir.name}.",
        "scripts=(",
        *(f"  {shlex.quote(str(script))}" for script in scripts),
        ")",
        "outputs=(",
        *(f"  {shlex.quote(output)}" for output in outputs),
        ")",
        'task="${SLURM_ARRAY_TASK_ID:?not an array task}"',
        'output="${outputs[${task}]//%j/${SLURM_ARRAY_JOB_ID}_${task}}"',
        'exec bash "${scripts[${task}]}" > "${output}" 2>&1',
        "",
    ]
    return "\n".join(lines)


def submit_group(
    set_dir: Path,
    group: ArrayGroup,
    steps: dict[str, list[Step]],
    client: SlurmClient,
    key: str,
    *,
    held_by: str | None,
    throttle: int | None,
) -> dict[str, list[ledger.Job]]:
    """Submit a group's arrays, the fine-tune's first; every task recorded as a job. Run → its jobs.

    If SLURM refuses an array, the arrays of the group that went through are cancelled and the error
    raised (as for a run whose second job is refused); intents it never answered stay open for the next
    submit to look for.
    """
    from expset.fs.inside import write_file

    count = len(group.runs)
    span = f"0-{count - 1}" + (f"%{throttle}" if throttle else "")
    tokens = [ledger.new_token() for _ in group.steps]
    jobs = {
        (run, step): ledger.Job(
            run=run,
            step=step,
            token=f"{tokens[index]}-{task}",
            time=ledger.now(),
            script=str(steps[run][index].script.relative_to(set_dir)),
            script_sha256=hashlib.sha256(steps[run][index].script.read_bytes()).hexdigest(),
        )
        for index, step in enumerate(group.steps)
        for task, run in enumerate(group.runs)
    }
    for index, step in enumerate(group.steps):
        scripts = [steps[run][index].script for run in group.runs]
        write_file(set_dir, f"{ARRAYS_DIR}/{tokens[index]}.slurm", dispatcher(set_dir, group, step, scripts))
    ledger.append(set_dir, [ledger.intent(job) for job in jobs.values()])
    done: dict[str, list[ledger.Job]] = {run: [] for run in group.runs}
    arrays: list[str] = []
    fine_tune = None
    try:
        for index, step in enumerate(group.steps):
            script = set_dir / ARRAYS_DIR / f"{tokens[index]}.slurm"
            comment = job_comment(key, tokens[index], step, ARRAY_RUN)
            correspond = fine_tune is not None
            after = fine_tune or held_by
            array_id = client.submit(script, after=after, comment=comment, array=span, correspond=correspond)
            arrays.append(array_id)
            if step == FINETUNE_STEP:
                fine_tune = array_id
            for task, run in enumerate(group.runs):
                waits = f"{fine_tune}_{task}" if correspond else None
                held = None if correspond else held_by
                done[run].append(replace(jobs[(run, step)], job_id=f"{array_id}_{task}", after=waits, held_by=held))
            recorded = [ledger.submitted(job, job.job_id or "", job.after, job.held_by) for job in _last(done)]
            ledger.append(set_dir, recorded)
    except SubmitError:
        cancelled = bool(arrays) and client.cancel(arrays)
        untried = [jobs[(run, step)] for step in group.steps[len(arrays) + 1 :] for run in group.runs]
        withdrawn = ([job for runs in done.values() for job in runs] if cancelled else []) + untried
        ledger.append(set_dir, [ledger.abandoned(job.token, "an array of its group was refused") for job in withdrawn])
        raise
    return done


def _last(done: dict[str, list[ledger.Job]]) -> list[ledger.Job]:
    return [jobs[-1] for jobs in done.values()]

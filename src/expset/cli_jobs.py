"""The commands that take a set on: ``scaffold``, ``submit``, ``status``, and ``models``.

Plain functions; ``cli.py`` registers them on the app.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from expset.cli_support import RunsOption, SetDirArgument, reporting, run_names
from expset.errors import ExitCode


def scaffold_command(
    set_dir: SetDirArgument,
    runs: RunsOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite generated files that were edited.")] = False,
) -> None:
    """Write each run's setup_finetune.yaml, finetune.yaml, finetune.slurm and evaluation jobs.

    Files that would not change are left alone; files edited by hand are kept unless --force; an
    edited setup_finetune.yaml is the run's source and the other files follow it.
    """
    from collections import Counter

    from expset.io.profile import profile_path, read_profile
    from expset.scaffold import Action, apply, scaffold_set
    from expset.sets import load_set
    from expset.ui.console import status

    with reporting():
        experiment_set = load_set(set_dir)
        planned = scaffold_set(
            experiment_set, set_dir, profile=read_profile(profile_path()), runs=run_names(runs), force=force
        )
        if dry_run:
            for write in planned:
                sys.stdout.write(f"{write.action.value:>11}  {write.path}\n")
            status("dry run: nothing was written")
            return
        apply(planned, set_dir)
        counts = Counter(write.action for write in planned)
        summary = ", ".join(f"{counts[action]} {action.value}" for action in Action if counts[action])
        status(
            f"[green]scaffolded[/] {len({w.path.parent for w in planned if w.path.name == 'finetune.yaml'})} runs: "
            f"{summary}"
        )
        status(f"next: submit the fine-tunes and their evaluations with [bold]expset submit {set_dir}[/]")


def submit_command(
    set_dir: SetDirArgument,
    runs: RunsOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the sbatch commands; submit nothing.")] = False,
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", metavar="N", min=1, help="Keep at most N of this set's jobs queued.")
    ] = None,
    stagger: Annotated[
        float, typer.Option("--stagger", metavar="SECONDS", min=0, help="Wait between runs' submissions.")
    ] = 0.0,
    resubmit: Annotated[bool, typer.Option("--resubmit", help="Submit failed or cancelled jobs again.")] = False,
) -> None:
    """Submit each run's fine-tune, and its evaluations to start once the fine-tune has succeeded.

    Runs already pending, running or completed are left alone, so submitting twice submits nothing.
    A failed evaluation cancels nothing else; a failed fine-tune cancels its evaluations.
    """
    import shlex

    from expset.backends.runner import SubprocessRunner
    from expset.backends.slurm import SlurmClient
    from expset.sets import load_set
    from expset.submit import submit_set
    from expset.ui.console import report_error, status

    with reporting():
        experiment_set = load_set(set_dir)
        report = submit_set(
            experiment_set,
            set_dir,
            SlurmClient(SubprocessRunner()),
            runs=run_names(runs),
            dry_run=dry_run,
            max_jobs=max_jobs,
            stagger=stagger,
            resubmit=resubmit,
        )
        for argv in report.commands:
            sys.stdout.write(shlex.join(argv) + "\n")
        for run, entries in report.submitted.items():
            status(f"submitted {run}: " + ", ".join(f"{e.step} {e.job_id}" for e in entries))
        for run, reason in report.skipped.items():
            status(f"[dim]skipped {run}: {reason}[/]")
        if report.left:
            status(
                f"[yellow]{len(report.left)} run(s) left for a later submit (--max-jobs {max_jobs}):[/] "
                + ", ".join(report.left)
            )
        if report.error is not None:
            report_error(report.error)
            raise typer.Exit(report.error.exit_code)
        if not dry_run:
            status(f"{len(report.submitted)} run(s) submitted; follow them with [bold]expset status {set_dir}[/]")


def status_command(
    set_dir: SetDirArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    watch: Annotated[
        float | None, typer.Option("--watch", metavar="SECONDS", help="Refresh every SECONDS until all are settled.")
    ] = None,
) -> None:
    """Show every run's fine-tune, epochs on disk and evaluations; exit 0 only when all are complete."""
    import time

    from expset.backends.runner import SubprocessRunner
    from expset.backends.slurm import SlurmClient
    from expset.sets import load_set
    from expset.status import Progress, set_status, summary
    from expset.ui.console import show_status

    with reporting():
        experiment_set = load_set(set_dir)
        client = SlurmClient(SubprocessRunner())
        while True:
            statuses = set_status(experiment_set, set_dir, client)
            counts = summary(statuses)
            settled = counts[Progress.RUNNING.value] == counts[Progress.PENDING.value] == 0
            if watch is None or settled or as_json:
                break
            show_status(statuses, counts, set_dir)
            time.sleep(watch)
        if as_json:
            document = {"set": experiment_set.set_name, "summary": counts, "runs": [s.to_data() for s in statuses]}
            sys.stdout.write(json.dumps(document, indent=1) + "\n")
        else:
            show_status(statuses, counts, set_dir)
        if counts[Progress.COMPLETE.value] != len(statuses):
            raise typer.Exit(ExitCode.NOT_COMPLETE)


def models_command() -> None:
    """List the models expset knows: name, naming label, torchtune builder, default GPUs and time."""
    from expset.core.models import MODELS

    width = max(len(model.name) for model in MODELS)
    for model in MODELS:
        sys.stdout.write(
            f"{model.name.ljust(width)}  {model.label:<14} {model.builder:<52} "
            f"{model.gpus} GPU  {model.gpu_memory_gb}G  {model.time}\n"
        )

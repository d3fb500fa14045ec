"""The commands that take a set on: ``scaffold``, ``check``, ``status``; and ``models``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from expset.cli.support import RunsOption, SetDirArgument, note_removed_folders, reporting, run_names
from expset.errors import ExitCode

NoCheckOption = Annotated[bool, typer.Option("--no-check", help="Skip `expset check` of the set's inputs.")]


def scaffold_command(
    set_dir: SetDirArgument,
    runs: RunsOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite generated files that were edited.")] = False,
    no_check: NoCheckOption = False,
) -> None:
    """Write each run's setup_finetune.yaml, finetune.yaml, finetune.slurm and evaluation jobs.

    Files that would not change are left alone; files edited by hand are kept unless --force; an
    edited setup_finetune.yaml is the run's source and the other files follow it.
    """
    import shlex
    from collections import Counter

    from expset.cli.console import status
    from expset.core.layout import CONFIG_FILE
    from expset.scaffold import WRITING_ACTIONS, Action, PlannedWrite, apply, scaffold_set
    from expset.sets import load_set
    from expset.site import profile_path, read_profile

    planned: list[PlannedWrite] = []
    written: list[PlannedWrite] = []

    def interrupted() -> str:
        if not any(not write.state for write in written):
            return "nothing was written"
        changes = sum(1 for write in planned if write.action in WRITING_ACTIONS and not write.state)
        made = sum(1 for write in written if not write.state)
        return f"{made} of the {changes} file changes were made, each file whole; scaffold again to finish"

    with reporting(interrupted):
        experiment_set = load_set(set_dir)
        note_removed_folders(experiment_set, set_dir)
        plan = scaffold_set(
            experiment_set, set_dir, profile=read_profile(profile_path()), runs=run_names(runs), force=force
        )
        planned = plan.writes
        for note in plan.notes:
            status("[yellow]note:[/] {}", note)
        if dry_run:
            for write in planned:
                sys.stdout.write(f"{write.action.value:>11}  {write.path}\n")
            status("dry run: nothing was written")
            return
        apply(planned, set_dir, written.append)
        counts = Counter(write.action for write in planned if not write.state)
        summary = ", ".join(f"{counts[action]} {action.value}" for action in Action if counts[action])
        status(
            "[green]scaffolded[/] {} runs: {}",
            len({w.path.parent for w in planned if w.path.name == CONFIG_FILE}),
            summary,
        )
        from expset.next_steps import before_submit

        for step in before_submit(experiment_set, read_profile(profile_path()), run_names(runs)):
            status("before submitting: {}", step)
        if not no_check:
            found = run_check(experiment_set, set_dir, run_names(runs), show=sys.stderr.write, whole=False)
            if found:
                status("[yellow]{} problem(s) above: `expset submit` refuses until they are fixed[/]", found)
        status(
            "next: submit the fine-tunes and their evaluations with [bold]expset submit {}[/]",
            shlex.quote(str(set_dir)),
        )


def check_command(
    set_dir: SetDirArgument,
    runs: RunsOption = None,
    accept_inputs: Annotated[
        bool,
        typer.Option(
            "--accept-inputs",
            help="Record the data and task files found now as the set's inputs, accepting a deliberate change "
            "(or another copy of the data) instead of reporting it.",
        ),
    ] = False,
) -> None:
    """Check what the set's jobs will need before any is queued; exit 2 with one line per problem.

    Model files, data fields, task files, disk space, and the account, partition and QoS where SLURM
    can say; that each data and task file is byte-identical to the one the set was first scaffolded
    with (a set moved to another cluster); then the GPU-hours and disk the set asks for.
    """
    from expset.sets import load_set

    with reporting():
        experiment_set = load_set(set_dir)
        problems = run_check(
            experiment_set, set_dir, run_names(runs), show=sys.stdout.write, findings=True, accept_inputs=accept_inputs
        )
        if problems:
            raise typer.Exit(ExitCode.BAD_INPUT)


def run_check(
    experiment_set: Any,
    set_dir: Any,
    runs: list[str] | None,
    show: Any,
    *,
    findings: bool = False,
    whole: bool = True,
    accept_inputs: bool = False,
) -> int:
    """Run ``expset check`` and show its problems through ``show`` (with ``findings``, also its notes, the
    data it counted and what the set asks for); the number of problems. Not ``whole`` (scaffold's), task
    files are only parsed and SLURM is not asked: it takes no time."""
    from expset.check import check_set, describe
    from expset.cli.console import status
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    client = SlurmClient(SubprocessRunner()) if whole else None
    report = check_set(experiment_set, set_dir, client, runs=runs, import_tasks=whole, accept_inputs=accept_inputs)
    for line in report.accepted:
        status("accepted {}", line)
    if accept_inputs and not report.accepted:
        status("the data and task files found are those recorded; nothing to accept")
    if findings:
        for note in report.notes:
            status("[yellow]note:[/] {}", note)
        for line in describe(report):
            show(line + "\n")
    for problem in report.problems:
        show(f"problem: {problem}\n")
    return len(report.problems)


def status_command(
    set_dir: SetDirArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    watch: Annotated[
        float | None,
        typer.Option("--watch", metavar="SECONDS", min=1, help="Refresh every SECONDS until all are settled."),
    ] = None,
) -> None:
    """Show every run's fine-tune, epochs on disk and evaluations; exit 0 only when all are complete."""
    from expset.cli.status_view import show_status, watch_status
    from expset.sets import load_set
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner
    from expset.status import Progress, set_status, summary

    with reporting("the jobs go on; nothing was written"):
        experiment_set = load_set(set_dir)
        note_removed_folders(experiment_set, set_dir)
        client = SlurmClient(SubprocessRunner())
        if watch is not None and not as_json:
            current = watch_status(lambda: set_status(experiment_set, set_dir, client), watch, set_dir)
        else:
            current = set_status(experiment_set, set_dir, client)
        counts = summary(current.runs)
        if as_json:
            document = {
                "set": set_dir.absolute().name,
                "path": str(set_dir.absolute()),
                "summary": counts,
                "notes": current.notes,
                "canaries": [{**vars(canary), "progress": canary.progress.value} for canary in current.canaries],
                "runs": [run.to_data() for run in current.runs],
                "removed": [*experiment_set.removed, *(run.name for run in experiment_set.missing)],
            }
            sys.stdout.write(json.dumps(document, indent=1) + "\n")
        elif watch is None:
            show_status(current, set_dir)
        if counts[Progress.COMPLETE.value] != len(current.runs):
            raise typer.Exit(ExitCode.NOT_COMPLETE)


def models_command() -> None:
    """List the models expset knows: name, naming label, torchtune builder, default GPUs and time."""
    from expset.core.models import MODELS

    rows = [("MODEL", "LABEL", "TORCHTUNE BUILDER", "GPUS", "GPU MEMORY", "TIME")]
    rows += [
        (name, str(model.label), model.builder, str(model.gpus), f"{model.gpu_memory_gb}G", model.time)
        for name, model in MODELS.items()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")

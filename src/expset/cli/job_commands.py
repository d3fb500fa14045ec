"""The commands that take a set on: ``scaffold``, ``submit``, ``status``; and ``models``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from expset.cli.support import RunsOption, SetDirArgument, reporting, run_names
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
            found = run_check(experiment_set, set_dir, run_names(runs), show=sys.stderr.write, imports=False)
            if found:
                status("[yellow]{} problem(s) above: `expset submit` refuses until they are fixed[/]", found)
        status(
            "next: submit the fine-tunes and their evaluations with [bold]expset submit {}[/]",
            shlex.quote(str(set_dir)),
        )


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
    rerun: Annotated[
        bool,
        typer.Option(
            "--rerun",
            help="Run again the completed runs whose setup changed since they ran (their checkpoints are "
            "overwritten; earlier evaluation logs are kept).",
        ),
    ] = False,
    fix: Annotated[
        str | None,
        typer.Option(
            "--fix",
            metavar="oom|time",
            help="With --resubmit: halve the batch (same effective batch) or double the time limit of fine-tunes "
            "that failed for that reason (or of the --runs named) before they go again.",
        ),
    ] = None,
    no_check: NoCheckOption = False,
) -> None:
    """Submit each run's fine-tune, and its evaluations to start once the fine-tune has succeeded.

    Runs already pending, running or completed are left alone, so submitting twice submits nothing.
    A failed evaluation cancels nothing else; a failed fine-tune cancels its evaluations. Exits 7 when
    runs were left unsubmitted because jobs of theirs failed (`expset status` says why).
    """
    import shlex

    from expset.cli.console import report_error, status
    from expset.core.fixes import FIX_NAMES
    from expset.errors import UsageError
    from expset.sets import load_set
    from expset.site import profile_path, read_profile
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner
    from expset.submit import submit_set

    submitted: list[str] = []

    def interrupted() -> str:
        whole = f"the jobs of {len(submitted)} run(s) were submitted" if submitted else "no run was submitted whole"
        return f"{whole}; every job that went through is recorded, so submit again to submit the rest"

    with reporting(interrupted):
        if fix is not None and fix not in FIX_NAMES:
            raise UsageError(f"--fix {fix}: not a fix expset knows", hint=f"use one of: {', '.join(FIX_NAMES)}")
        if fix is not None and not resubmit:
            raise UsageError("--fix changes failed runs before they go again", hint="give it with --resubmit")
        experiment_set = load_set(set_dir)
        if not no_check and not dry_run and run_check(experiment_set, set_dir, run_names(runs), show=sys.stderr.write):
            raise UsageError(
                "`expset check` found the problems above; nothing was submitted",
                hint="fix them (or submit anyway with --no-check)",
            )
        report = submit_set(
            experiment_set,
            set_dir,
            SlurmClient(SubprocessRunner()),
            runs=run_names(runs),
            dry_run=dry_run,
            max_jobs=max_jobs,
            stagger=stagger,
            resubmit=resubmit,
            fix=fix,
            rerun=rerun,
            profile=read_profile(profile_path()) if fix else None,
            on_submitted=submitted.append,
        )
        for note in report.notes:
            status("[yellow]note:[/] {}", note)
        if report.fixed is not None:
            for run, changes in report.fixed.changed.items():
                status("fixed {}: {}", run, ", ".join(change.describe() for change in changes))
            for run, why in report.fixed.left.items():
                status("[dim]not fixed {}: {}[/]", run, why)
            if not report.fixed.changed:
                status("[yellow]note:[/] no failed fine-tune needed --fix {}", fix)
        for argv in report.commands:
            sys.stdout.write(shlex.join(argv) + "\n")
        for run, entries in report.submitted.items():
            status("submitted {}: {}", run, ", ".join(f"{e.step} {e.job_id}" for e in entries))
        for run, reason in report.skipped.items():
            status("[dim]skipped {}: {}[/]", run, reason)
        if report.left:
            status(
                "[yellow]{} run(s) left for a later submit (--max-jobs {}):[/] {}",
                len(report.left),
                max_jobs,
                ", ".join(report.left),
            )
        if report.error is not None:
            report_error(report.error)
            raise typer.Exit(report.error.exit_code)
        if not dry_run:
            status(
                "{} run(s) submitted; follow them with [bold]expset status {}[/]",
                len(report.submitted),
                shlex.quote(str(set_dir)),
            )
        if report.failed:
            status(
                "[red]{} run(s) were not submitted because jobs of theirs failed:[/] {}; "
                "`expset status {}` says why, then submit them again with --resubmit",
                len(report.failed),
                ", ".join(report.failed[:10]) + (" …" if len(report.failed) > 10 else ""),
                shlex.quote(str(set_dir)),
            )
            raise typer.Exit(ExitCode.NOT_COMPLETE)


def check_command(set_dir: SetDirArgument, runs: RunsOption = None) -> None:
    """Check what the set's jobs will need before any is queued; exit 2 with one line per problem.

    Model files, data fields, task files, disk space, and the account, partition and QoS where SLURM
    can say; then the GPU-hours and disk the set asks for.
    """
    from expset.sets import load_set

    with reporting():
        experiment_set = load_set(set_dir)
        problems = run_check(experiment_set, set_dir, run_names(runs), show=sys.stdout.write, findings=True)
        if problems:
            raise typer.Exit(ExitCode.BAD_INPUT)


def run_check(
    experiment_set: Any,
    set_dir: Any,
    runs: list[str] | None,
    show: Any,
    *,
    findings: bool = False,
    imports: bool = True,
) -> int:
    """Run ``expset check`` and show its problems through ``show`` (with ``findings``, also its notes, the
    data it counted and what the set asks for); the number of problems."""
    from expset.check import check_set, describe
    from expset.cli.console import status
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    report = check_set(experiment_set, set_dir, SlurmClient(SubprocessRunner()), runs=runs, import_tasks=imports)
    if findings:
        for note in report.notes:
            status("[yellow]note:[/] {}", note)
        for line in describe(report):
            show(line + "\n")
    for problem in report.problems:
        show(f"problem: {problem}\n")
    return len(report.problems)


def cancel_command(
    set_dir: SetDirArgument,
    runs: RunsOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Cancel without asking.")] = False,
) -> None:
    """Cancel the set's (or these runs') pending and running jobs, after showing them.

    Jobs that already ended are left as they are; a later `expset submit --resubmit` submits the
    cancelled runs again.
    """
    import shlex

    from expset.cancel import ActiveJob, cancel_set
    from expset.cli import prompts
    from expset.cli.console import status
    from expset.errors import DeclinedError
    from expset.sets import load_set
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    def confirm(jobs: list[ActiveJob]) -> bool:
        for job in jobs[:20]:
            status("  {} {}: job {} ({})", job.run, job.step, job.job_id, job.state)
        if len(jobs) > 20:
            status("  … and {} more", len(jobs) - 20)
        if yes:
            return True
        prompts.require_terminal("to confirm", hint="re-run with --yes to cancel the jobs listed above")
        if not prompts.ask_confirm(f"Cancel these {len(jobs)} job(s)?", default=False):
            raise DeclinedError("nothing was cancelled")
        return True

    with reporting("nothing was cancelled"):
        experiment_set = load_set(set_dir)
        report = cancel_set(experiment_set, set_dir, SlurmClient(SubprocessRunner()), run_names(runs), confirm)
        for note in report.notes:
            status("[yellow]note:[/] {}", note)
        if not report.jobs:
            status("no job of {} is pending or running; nothing to cancel", "these runs" if runs else "the set")
            return
        runs_hit = sorted({job.run for job in report.jobs})
        status(
            "[green]cancelled[/] {} job(s) of {} run(s); submit them again with [bold]expset submit {} --resubmit[/]",
            len(report.jobs),
            len(runs_hit),
            shlex.quote(str(set_dir)),
        )


def status_command(
    set_dir: SetDirArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    watch: Annotated[
        float | None,
        typer.Option("--watch", metavar="SECONDS", min=1, help="Refresh every SECONDS until all are settled."),
    ] = None,
) -> None:
    """Show every run's fine-tune, epochs on disk and evaluations; exit 0 only when all are complete."""
    from expset.cli.console import show_status, watch_status
    from expset.sets import load_set
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner
    from expset.status import Progress, set_status, summary

    with reporting("the jobs go on; nothing was written"):
        experiment_set = load_set(set_dir)
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
                "runs": [run.to_data() for run in current.runs],
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

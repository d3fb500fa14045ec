"""The commands that put a set's jobs on the cluster and take them off: ``submit`` and ``cancel``."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Annotated, Any

import typer

from expset.cli.job_commands import NoCheckOption, run_check
from expset.cli.support import RunsOption, SetDirArgument, reporting, run_names
from expset.errors import ExitCode


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
            metavar="oom|mem|time",
            help="With --resubmit: halve the batch (same effective batch; out of GPU memory), double --mem (out of "
            "host memory) or double the time limit of fine-tunes that failed for that reason (or of the --runs "
            "named) before they go again.",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep submitting as slots free up (--max-jobs, or SLURM's own job limit) until every run is "
            "submitted. Ctrl-C stops following, not the jobs; run it again to go on. Safe under nohup or tmux.",
        ),
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", metavar="SECONDS", min=1, help="With --follow: seconds between rounds.")
    ] = 60.0,
    canary: Annotated[
        bool,
        typer.Option(
            "--canary",
            help="First, per model, a few steps of the heaviest run and a few samples of each evaluation; SLURM "
            "holds the rest of the set until they succeed, and cancels it if one fails.",
        ),
    ] = False,
    array: Annotated[
        bool | None,
        typer.Option(
            "--array/--no-array",
            help="Submit runs that go whole as SLURM job arrays, one per step kind (default: from 100 runs).",
        ),
    ] = None,
    throttle: Annotated[
        int | None,
        typer.Option("--throttle", metavar="N", min=1, help="With arrays: at most N tasks of an array run at once."),
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
        client = SlurmClient(SubprocessRunner())
        report = submit_set(
            experiment_set,
            set_dir,
            client,
            runs=run_names(runs),
            dry_run=dry_run,
            max_jobs=max_jobs,
            stagger=stagger,
            resubmit=resubmit,
            fix=fix,
            rerun=rerun,
            canary=canary,
            array=array,
            throttle=throttle,
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
        if report.canaries is not None:
            for model, run in sorted(report.canaries.runs.items()):
                said = {"passed": "passed already", "waiting": "under way", "submitted": "submitted"}
                jobs = ", ".join(f"{job.step} {job.job_id}" for job in report.canaries.jobs.get(run, []))
                status("canary of {}: {} ({}{})", model, run, said[report.canaries.states[run]], jobs and f": {jobs}")
            if report.canaries.held_by:
                status("the rest of the set is held until the canaries succeed, and cancelled if one fails")
        for argv in report.commands:
            sys.stdout.write(shlex.join(argv) + "\n")
        _say_submitted(report)
        if follow and not dry_run and report.error is None and report.left:
            options = {"max_jobs": max_jobs, "stagger": stagger, "resubmit": resubmit, "rerun": rerun}
            options |= {"canary": canary, "array": array, "throttle": throttle}
            report = _follow(experiment_set, set_dir, client, report, options, poll, submitted)
        else:
            for run, reason in report.skipped.items():
                status("[dim]skipped {}: {}[/]", run, reason)
        if report.left:
            status(
                "[yellow]{} run(s) left for a later submit ({}):[/] {}; `--follow` submits them as slots free up",
                len(report.left),
                f"--max-jobs {max_jobs}" if report.limit is None else f"SLURM's job limit: {report.limit}",
                ", ".join(report.left[:10]) + (" …" if len(report.left) > 10 else ""),
            )
        if report.error is not None:
            report_error(report.error)
            raise typer.Exit(report.error.exit_code)
        if not dry_run:
            status(
                "{} run(s) submitted; follow them with [bold]expset status {}[/]",
                len(submitted),
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


def _say_submitted(report: Any) -> None:
    from expset.cli.console import status

    for run, entries in report.submitted.items():
        status("submitted {}: {}", run, ", ".join(f"{e.step} {e.job_id}" for e in entries))


def _follow(
    experiment_set: Any,
    set_dir: Any,
    client: Any,
    first: Any,
    options: dict[str, Any],
    poll: float,
    submitted: list[str],
) -> Any:
    """Submit round after round the runs the round before left, until none is left; a progress line on stderr
    after each round. Each round takes the first's ``options`` (resubmit, rerun, canary…), for the runs it
    left only: a job that fails while the follow goes on is not resubmitted by it. A follow ends when the
    set's jobs are cancelled (``expset cancel``) after it began."""
    import time

    from expset import ledger
    from expset.cli.console import status
    from expset.follow import follow
    from expset.submit import submit_set

    began = ledger.read(set_dir).lines
    left = list(first.left)

    def once() -> Any:
        nonlocal left
        report = submit_set(experiment_set, set_dir, client, runs=left, on_submitted=submitted.append, **options)
        left = list(report.left) if report.error is None else left
        return report

    def progress(report: Any) -> None:
        _say_submitted(report)
        jobs = ", ".join(f"{count} {state}" for state, count in sorted(report.jobs.items())) or "none yet"
        reason = f"SLURM's job limit ({report.limit})" if report.limit else f"--max-jobs {options['max_jobs']}"
        waiting = f"; {len(report.left)} run(s) wait for a free slot: {reason}" if report.left else ""
        status("{}  jobs of the set: {}{}", time.strftime("%H:%M:%S"), jobs, waiting)

    def cancelled() -> bool:
        return any(note["event"] == "cancelled" and note["line"] > began for note in ledger.read(set_dir).notes)

    last = follow(
        once,
        poll=poll,
        on_round=progress,
        on_wait=lambda why: status("[dim]waiting: {}[/]", why),
        stopped=cancelled,
    )
    if last is None:
        status("[yellow]stopped following: the set's jobs were cancelled (expset cancel) since this follow began[/]")
        return replace(first, submitted={}, left=left, skipped={}, failed=[])
    return last

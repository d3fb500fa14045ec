"""``expset clean``: free disk by removing checkpoint folders, after showing what goes per run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from expset.cli.support import RunsOption, SetDirArgument, reporting, run_names

if TYPE_CHECKING:
    from expset.clean import CleanReport, Removal

CHECKPOINT_CHOICES = ("except-last", "except-evaluated", "all")


def clean_command(
    set_dir: SetDirArgument,
    checkpoints: Annotated[
        str,
        typer.Option(
            "--checkpoints",
            metavar="|".join(CHECKPOINT_CHOICES),
            help="Which epoch_N/ folders go: every epoch but each run's highest (except-last), every epoch no "
            "evaluation succeeded on (except-evaluated), or all of them. Required: clean deletes only what it is "
            "told to.",
        ),
    ],
    runs: RunsOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")] = False,
) -> None:
    """Remove checkpoint folders (epoch_N/ of each run and of its canary) to free disk, after showing them.

    --checkpoints has no default: which checkpoints are worth keeping differs between sets, so the
    choice is always named. Runs whose jobs are pending or running are refused (the whole command, exit
    75), as is any run when SLURM cannot be asked. A fine-tune that has not finished keeps the epoch it
    resumes from (unless --checkpoints all, and then it starts over). What goes is recorded in
    .expset/cleaned.jsonl, so status tells cleaned checkpoints from missing ones; evaluation logs,
    training logs and report/ are never touched.
    """
    import shlex

    from expset.clean import clean_set
    from expset.cli import prompts
    from expset.cli.console import status
    from expset.core.cleaning import CheckpointChoice
    from expset.core.layout import CLEANED_RECORD
    from expset.errors import DeclinedError, UsageError
    from expset.sets import load_set
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    removed: list[Removal] = []
    planned: list[Removal] = []

    def interrupted() -> str:
        if not removed:
            return "nothing was removed"
        return (
            f"{len(removed)} of {len(planned)} checkpoint folder(s) were removed and recorded in {CLEANED_RECORD}; "
            "each other one is whole, or hidden and recorded: clean again to finish"
        )

    def confirm(report: CleanReport) -> bool:
        planned.extend(report.removals)
        _show(report)
        if yes:
            return True
        prompts.require_terminal("to confirm", hint="re-run with --yes to remove the checkpoints listed above")
        question = f"Remove these {len(report.removals)} checkpoint folder(s), freeing {size_text(report.size)}?"
        if not prompts.ask_confirm(question, default=False):
            raise DeclinedError("nothing was removed")
        return True

    with reporting(interrupted):
        if checkpoints not in CHECKPOINT_CHOICES:
            raise UsageError(
                f"--checkpoints {checkpoints}: not a choice clean knows",
                hint=f"use one of: {', '.join(CHECKPOINT_CHOICES)}",
            )
        experiment_set = load_set(set_dir)
        report = clean_set(
            experiment_set,
            set_dir,
            SlurmClient(SubprocessRunner()),
            run_names(runs),
            CheckpointChoice(checkpoints),
            confirm,
            on_removed=removed.append,
        )
        if not report.removals:
            for note in report.notes:
                status("[yellow]note:[/] {}", note)
            status("no checkpoint of {} to remove; nothing to free", "these runs" if runs else "the set")
            return
        status(
            "[green]removed[/] {} checkpoint folder(s) of {} run(s), {} freed; recorded in {}",
            len(report.removed),
            len({removal.run for removal in report.removed}),
            size_text(sum(removal.size for removal in report.removed)),
            shlex.quote(str(set_dir / CLEANED_RECORD)),
        )


def _show(report: CleanReport) -> None:
    """Per run: the folders that go with their files and bytes, the folders kept; then the notes and the total."""
    from expset.cli.console import status

    by_run: dict[str, list[Removal]] = {}
    for removal in report.removals:
        by_run.setdefault(removal.run, []).append(removal)
    for run, removals in by_run.items():
        folders = ", ".join(
            removal.folder + (" (left by an interrupted clean)" if removal.hidden else "") for removal in removals
        )
        kept = report.kept.get(run)
        status(
            "  {}: {} — {} file(s), {}{}",
            run,
            folders,
            sum(len(removal.files) for removal in removals),
            size_text(sum(removal.size for removal in removals)),
            f"; keeps {', '.join(kept)}" if kept else "",
        )
    for note in report.notes:
        status("[yellow]note:[/] {}", note)
    total = size_text(report.size)
    status("{} checkpoint folder(s) of {} run(s): {} to free", len(report.removals), len(by_run), total)


def size_text(size: int) -> str:
    """Bytes as a person reads them: ``512 B``, ``3.4 MB``, ``12.0 GB`` (powers of 1000, as ``df -H`` counts)."""
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{size} B" if size < 1000 else f"{value:.1f} {unit}"
    return f"{size} B"

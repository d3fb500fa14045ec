"""The commands that change which runs a set has: ``extend`` and ``remove``."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from expset.cli import completion
from expset.cli.support import SetDirArgument, reporting

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Approve without asking.")]


def extend_command(
    set_dir: SetDirArgument,
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="The set's plan with the runs to add.")],
    yes: YesOption = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be added; write nothing.")] = False,
) -> None:
    """Add runs to a set: new values of a varied parameter, a newly varied one, new evaluations.

    Existing runs keep their names and folders; a plan that would rename or change one is refused.
    """
    from expset import __version__
    from expset.cli import prompts
    from expset.cli.console import status
    from expset.core.plan import parse_plan
    from expset.errors import DeclinedError
    from expset.plan_file import read_plan_data, resolve_plan_paths
    from expset.reshape import plan_extension, write_extension
    from expset.site import default_author, today

    with reporting():
        data = resolve_plan_paths(read_plan_data(plan_file), plan_file.absolute().parent)
        author = default_author()
        plan = parse_plan(data, today=today(), default_author=author)
        planned = plan_extension(set_dir, plan, today=today(), author=author)
        extension = planned.extension
        if not extension.adds_anything:
            status(
                "[green]up to date[/]: {} already has every run and evaluation of this plan; nothing was written",
                set_dir,
            )
            return
        _show_extension(planned)
        if dry_run:
            status("dry run: nothing was written")
            return
        if not yes:
            prompts.require_terminal("for approval", hint="re-run with --yes to add the runs shown above")
            if not prompts.ask_confirm("Extend the set?", default=True):
                raise DeclinedError("cancelled; nothing was written")
        write_extension(set_dir, planned, __version__)
        status("[green]extended[/] {}: {}", set_dir, extension.entry.summary)
        status(
            "next: write the new runs' configs and jobs with [bold]expset scaffold {}[/], then submit",
            shlex.quote(str(set_dir)),
        )


def _show_extension(planned: Any) -> None:
    from expset.cli.console import stdout

    extension = planned.extension
    extended = extension.extended
    out = stdout()
    out.print(
        f"Extending {extended.set_name}: {extension.entry.summary}", markup=False, highlight=False, soft_wrap=True
    )
    if extension.added:
        out.print(f"New runs ({len(extension.added)}):", markup=False, highlight=False, soft_wrap=True)
        for run in extension.added[:30]:
            out.print(f"  {run.name}", markup=False, highlight=False, soft_wrap=True)
        if len(extension.added) > 30:
            out.print(f"  … and {len(extension.added) - 30} more (all in runs_plan.md)", markup=False, soft_wrap=True)
    if planned.existing_runs_gaining_tasks:
        tasks = ", ".join(extension.new_tasks)
        out.print(
            f"{len(planned.existing_runs_gaining_tasks)} existing runs gain evaluations/ folders for: {tasks}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    left_out = [p for p in extended.convention.parameters if p.omitted is not None]
    out.print(f"Run names: {extended.convention.template}", markup=False, highlight=False, soft_wrap=True)
    for naming in left_out:
        value = naming.values[naming.omitted]
        out.print(
            f"  {naming.key} = {value} is left out of names (the runs made before it varied)",
            markup=False,
            soft_wrap=True,
        )
    out.print(f"Rewritten: {', '.join(planned.rewritten)}", markup=False, highlight=False, soft_wrap=True)
    if planned.kept_edited:
        out.print(
            f"Kept as edited by hand: {', '.join(planned.kept_edited)}", markup=False, highlight=False, soft_wrap=True
        )
    out.print("Existing run folders keep every file as it is.", markup=False, highlight=False, soft_wrap=True)


def remove_command(
    set_dir: SetDirArgument,
    runs: Annotated[
        list[str], typer.Argument(metavar="RUN…", help="The runs to remove.", autocompletion=completion.run_names)
    ],
    yes: YesOption = False,
) -> None:
    """Remove runs from a set: their folders, and their place in its records (README, runs.csv, expset.yaml).

    Refused while any of their jobs is pending or running. Nothing else of the set is touched.
    """
    from expset import __version__
    from expset.cli import prompts
    from expset.cli.console import human_bytes, status
    from expset.reshape import PlannedRemoval, remove_from_set
    from expset.site import default_author, today
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    def confirm(planned: PlannedRemoval) -> bool:
        for note in planned.notes:
            status("[yellow]note:[/] {}", note)
        for name, (files, size) in planned.sizes.items():
            what = f"{files} files, {human_bytes(size)}" if files else "its folder is already gone"
            status("  remove {}: {}", name, what)
        status("  rewrite {}", ", ".join(planned.rewritten))
        if planned.kept_edited:
            status("  keep {} (edited by hand: it still lists the removed runs)", ", ".join(planned.kept_edited))
        if yes:
            return True
        prompts.require_terminal("to confirm", hint="re-run with --yes to remove the runs listed above")
        total = sum(size for _, size in planned.sizes.values())
        return prompts.ask_confirm(f"Delete {len(planned.sizes)} run folder(s), {human_bytes(total)}?", default=False)

    with reporting("nothing was removed"):
        names = [_run_in(set_dir, given) for given in runs]
        planned = remove_from_set(
            set_dir,
            names,
            SlurmClient(SubprocessRunner()),
            confirm,
            today=today(),
            author=default_author(),
            version=__version__,
        )
        freed = sum(size for _, size in planned.sizes.values())
        if planned.undeleted is not None:
            status(
                "[yellow]removed[/] {} run(s) from {}, but some of their files could not be deleted: they are in {}",
                len(planned.sizes),
                set_dir,
                planned.undeleted,
            )
            return
        status("[green]removed[/] {} run(s) from {}; {} freed", len(planned.sizes), set_dir, human_bytes(freed))


def _run_in(set_dir: Path, given: str) -> str:
    """The run a RUN argument names: a run name, or a path to a run folder of this very set."""
    from expset.errors import UsageError

    path = Path(given.rstrip("/"))
    if len(path.parts) > 1 and path.parent.resolve() != set_dir.resolve():
        raise UsageError(
            f"{given}: not a run folder of {set_dir}", hint="give run names, or paths to run folders of that set"
        )
    return path.name

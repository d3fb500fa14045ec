"""``expset archive`` and ``expset restore``: a set as verified compressed tars, and back."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from expset.cli.support import SetDirArgument, reporting

if TYPE_CHECKING:
    from expset.archive import ArchivePlan, Written
    from expset.archive_removal import Removal

SMALL_ADAPTERS = 1_000_000_000
"""LoRA adapters left out that add up to less than this are called small enough to keep."""
LISTED = 20
"""Lines of a list shown before the rest are counted."""


def archive_command(
    set_dir: SetDirArgument,
    runs: Annotated[
        list[str] | None,
        typer.Argument(metavar="RUN", help="Archive these runs, one archive each (default: the whole set)."),
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", metavar="DIR", help="Folder to write the archive(s) in. Default: here.")
    ] = None,
    checkpoints: Annotated[
        str,
        typer.Option(
            "--checkpoints",
            metavar="none|last|evaluated|all",
            help="Which epoch_N/ checkpoint folders go in: none, each run's last, those with a successful "
            "evaluation, or all (with recipe_state/).",
        ),
    ] = "none",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write the archive(s) without asking.")] = False,
    remove_after_verify: Annotated[
        bool,
        typer.Option(
            "--remove-after-verify",
            help="Once verified, remove from the set what the archive holds (asked again at a terminal, even "
            "with --yes). Refused when checkpoints would be left out: add them with --checkpoints all.",
        ),
    ] = False,
) -> None:
    """Write the set (or each RUN) as a compressed tar with a manifest of every file's size and SHA-256,
    then read it back against the manifest.

    Plans, records, configs, scripts, logs, evaluation logs and report/ always go in; checkpoints as
    --checkpoints says. Never overwrites an archive and never deletes, unless --remove-after-verify.
    """
    from expset.archive import plan_archive, write_archive
    from expset.archive_removal import plan_removal, refuse_active_runs, remove
    from expset.cli import prompts
    from expset.cli.console import status
    from expset.core.archive_members import Checkpoints, human_size
    from expset.errors import DeclinedError, TargetExistsError, UsageError
    from expset.fs.set_change import finish_locked
    from expset.sets import load_set

    written: list[Written] = []
    removing: list[bool] = []

    def interrupted() -> str:
        done = f"{len(written)} archive(s) were written and verified; " if written else ""
        if removing:
            return f"{done}removal stopped part-way: what is gone is in the archive(s), the rest is still there"
        return f"{done}no partial archive was left behind and nothing was removed"

    with reporting(interrupted):
        choices = [choice.value for choice in Checkpoints]
        if checkpoints not in choices:
            raise UsageError(f"--checkpoints {checkpoints}: not a choice", hint=f"use one of: {', '.join(choices)}")
        load_set(set_dir)  # a folder that is not a set is refused before its lock file is made
        with _set_lock(set_dir, remove_after_verify) as locked:  # from planning to the end of the removal
            if locked:
                finish_locked(set_dir)
            experiment_set = load_set(set_dir)
            plan = plan_archive(experiment_set, set_dir, runs, Checkpoints(checkpoints), to or Path.cwd())
            for part in plan.parts:
                if part.target.exists() or part.target.is_symlink():
                    raise TargetExistsError(
                        f"{part.target} already exists; nothing was written",
                        hint="give another --to, or move that archive away",
                    )
            covered = set(runs) if runs else {run.name for run in experiment_set.all_runs}
            if remove_after_verify:
                _refuse_checkpoints_left_out(plan)
                refuse_active_runs(plan.set_dir, covered)
            _show_plan(plan)
            if not yes:
                prompts.require_terminal("to confirm", hint="re-run with --yes to write the archive(s) shown above")
                if not prompts.ask_confirm(f"Write {len(plan.parts)} archive(s)?", default=True):
                    raise DeclinedError("nothing was written")
            for part in plan.parts:
                with _progress(f"archiving {part.target.name}", part.size) as advance:
                    done = write_archive(plan, part, advance)
                written.append(done)
                sys.stdout.write(f"{done.path}\n")
                status(
                    "[green]archived and verified[/] {}: {} files, {} ({} compressed)",
                    done.path.name,
                    len(done.manifest.files),
                    human_size(done.manifest.size),
                    human_size(done.compressed_size),
                )
            if not remove_after_verify:
                return
            removal = plan_removal(plan.set_dir, written)
            _show_removal(removal)
            if not removal.files:
                status("nothing to remove")
                return
            if sys.stdin.isatty() and sys.stdout.isatty():  # asked again, --yes or not
                if not prompts.ask_confirm(
                    f"Remove these {len(removal.files)} file(s) ({human_size(removal.size)}) from the set?",
                    default=False,
                ):
                    status("nothing was removed; the archive(s) stay")
                    return
            elif not yes:
                raise DeclinedError("nothing was removed", hint="re-run at a terminal, or with --yes")
            removing.append(True)
            stayed = remove(removal, covered)
        for path, why in stayed[:LISTED]:
            status("[yellow]stays[/]: {} ({})", path, why)
        if len(stayed) > LISTED:
            status("  … and {} more stay", len(stayed) - LISTED)
        kept = {path for path, _ in stayed}
        gone = [(path, size) for path, size in removal.files if path not in kept]
        status("[green]removed[/] {} file(s), {} freed", len(gone), human_size(sum(size for _, size in gone)))
        if removal.runs is None and not plan.set_dir.exists():
            status("restore it with [bold]expset restore {}[/]", shlex.quote(str(written[0].path)))


@contextmanager
def _set_lock(set_dir: Path, removing: bool) -> Iterator[bool]:
    """The set's lock, so that no other expset command changes the set while it is archived; yields whether
    it is held. A set this user cannot write (a colleague's, read-only) is archived without it, since no lock
    file can be made there; with ``--remove-after-verify`` the lock is always taken, and a set that cannot
    hold it is refused before anything is written."""
    import os

    from expset.core.layout import STATE_DIR, SUBMIT_LOCK
    from expset.fs.set_lock import set_lock

    lock = set_dir / SUBMIT_LOCK
    if not removing and not os.access(lock if lock.exists() else set_dir / STATE_DIR, os.W_OK):
        yield False
        return
    with set_lock(set_dir):
        yield True


def _refuse_checkpoints_left_out(plan: ArchivePlan) -> None:
    """``UsageError`` when ``--remove-after-verify`` would leave checkpoints of the archived runs behind: what
    stays of a run (or a set) is then ``epoch_N/`` folders without the records that make them usable, which no
    command reads and no archive restores into."""
    from expset.core.archive_members import RECIPE_STATE_DIR, human_size
    from expset.errors import UsageError

    left_out = plan.left_out
    if not left_out:
        return
    size = human_size(sum(item.size for item in left_out))
    cleanable = all(not item.folder.endswith(f"/{RECIPE_STATE_DIR}") for item in left_out)  # clean keeps it
    free = f" or free them first (expset clean {shlex.quote(str(plan.set_dir))} --checkpoints all)" if cleanable else ""
    raise UsageError(
        f"--remove-after-verify with --checkpoints {plan.checkpoints.value} would leave {len(left_out)} checkpoint "
        f"folder(s) ({size}) behind without their run; nothing was written",
        hint=f"add them (--checkpoints all){free}",
    )


def _show_plan(plan: ArchivePlan) -> None:
    from expset.cli.console import status
    from expset.core.archive_members import human_size

    if len(plan.parts) == 1:
        status("[bold]archive of {}[/] → {}", plan.set_name, plan.parts[0].target)
    else:
        status("[bold]{} archives of runs of {}[/] in {}", len(plan.parts), plan.set_name, plan.parts[0].target.parent)
    width = max([len(kind) for kind in plan.kinds] + [5])
    for kind, (count, size) in sorted(plan.kinds.items()):
        status("  {}  {} file(s), {}", kind.ljust(width), count, human_size(size))
    total_files = sum(len(part.files) for part in plan.parts)
    status(
        "  {}  {} file(s), {} before compression",
        "total".ljust(width),
        total_files,
        human_size(sum(p.size for p in plan.parts)),
    )
    left_out = plan.left_out
    if left_out:
        size = sum(item.size for item in left_out)
        owners = {item.folder.rsplit("/", 1)[0] for item in left_out}
        status(
            "[yellow]left out[/] (--checkpoints {}): {} checkpoint folder(s) of {} run(s), {}",
            plan.checkpoints.value,
            len(left_out),
            len(owners),
            human_size(size),
        )
        adapters = sum(item.adapter_size for item in left_out)
        if adapters:
            small = "; small enough to keep: --checkpoints last, evaluated or all" if adapters < SMALL_ADAPTERS else ""
            status("  the LoRA adapters alone are {}{}", human_size(adapters), small)
    for path, why in plan.unreadable[:LISTED]:
        status("[yellow]left out[/] {}: {}", path, why)
    if len(plan.unreadable) > LISTED:
        status("  … and {} more left out", len(plan.unreadable) - LISTED)


def _show_removal(removal: Removal) -> None:
    from expset.cli.console import status
    from expset.core.archive_members import human_size

    by_folder: dict[str, tuple[int, int]] = {}
    for path, size in removal.files:
        top = path.split("/", 1)[0] if "/" in path else "(the set's own files)"
        count, total = by_folder.get(top, (0, 0))
        by_folder[top] = (count + 1, total + size)
    what = "the set" if removal.runs is None else f"{len(removal.runs)} run folder(s)"
    status(
        "[bold]--remove-after-verify[/]: from {}, these go ({} file(s), {} freed):",
        what,
        len(removal.files),
        human_size(removal.size),
    )
    for folder, (count, size) in list(sorted(by_folder.items()))[:LISTED]:
        status("  {}: {} file(s), {}", folder, count, human_size(size))
    if len(by_folder) > LISTED:
        status("  … and {} more folders", len(by_folder) - LISTED)
    for path, why in removal.kept[:LISTED]:
        status("  [dim]stays: {} ({})[/]", path, why)
    if len(removal.kept) > LISTED:
        status("  [dim]… and {} more stay[/]", len(removal.kept) - LISTED)
    status("  [dim]stays: everything the archive does not hold[/]")


@contextmanager
def _progress(what: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from expset.cli.console import stderr

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr(), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda count: bar.advance(task, count)


def restore_command(
    archive: Annotated[Path, typer.Argument(metavar="ARCHIVE", help="An archive written by expset archive.")],
    root: Annotated[
        Path | None,
        typer.Option("--root", metavar="DIR", help="Folder to restore the set in. Default: as create chooses."),
    ] = None,
) -> None:
    """Unpack an archive as a set, checking every file against its manifest; nothing is written unless all match.

    Refuses to replace an existing set. An archive of one run goes into its set when the set is there
    without that run's folder; else it restores as a set of that run.
    """
    from expset.cli.console import status
    from expset.core.archive_members import human_size
    from expset.restore import restore_archive
    from expset.site import check_root, choose_root

    with reporting("nothing was restored"):
        chosen = choose_root(str(root) if root else None, None)
        check_root(chosen)
        if not archive.is_file():
            from expset.errors import UsageError

            raise UsageError(f"ARCHIVE {archive}: no such file", hint="give the .tar.gz that expset archive wrote")
        with _progress(f"restoring {archive.name}", archive.stat().st_size) as advance:
            restored = restore_archive(archive, chosen.path, advance)
        manifest = restored.read.manifest
        sys.stdout.write(f"{restored.set_dir}\n")
        if restored.into_existing:
            status(
                "[green]restored[/] run(s) {} into {} ({} files checked against the manifest)",
                ", ".join(restored.into_existing),
                restored.set_dir,
                len(manifest.files),
            )
        else:
            status(
                "[green]restored[/] {}: {} files, {}, each checked against the manifest",
                restored.set_dir,
                len(manifest.files),
                human_size(manifest.size),
            )
        if manifest.left_out:
            status(
                "[dim]the archive left out {} checkpoint folder(s) (--checkpoints {})[/]",
                len(manifest.left_out),
                manifest.checkpoints.value,
            )
        status(
            "next: [bold]expset status {}[/]; to run jobs here, [bold]expset scaffold {}[/] first",
            shlex.quote(str(restored.set_dir)),
            shlex.quote(str(restored.set_dir)),
        )

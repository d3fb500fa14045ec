"""What every command shares: the set and ``--runs`` arguments, and the one place that turns expset
errors and Ctrl-C into a message and an exit code (library code never raises ``typer.Exit``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from expset.cli import completion
from expset.errors import ExitCode, ExpsetError, Terminated

SetDirArgument = Annotated[
    Path, typer.Argument(metavar="SET_DIR", help="The experiment set folder.", autocompletion=completion.set_folders)
]
RunsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--runs", metavar="RUN,…", help="Only these runs (comma-separated).", autocompletion=completion.run_names
    ),
]


def run_names(runs: list[str] | None) -> list[str] | None:
    """``--runs a,b --runs c`` → ["a", "b", "c"]; None when the option was not given."""
    names = [name.strip() for item in runs or [] for name in item.split(",") if name.strip()]
    return names or None


@contextmanager
def reporting(interrupted: str | Callable[[], str] = "nothing was written") -> Iterator[None]:
    """Turn expset errors, Ctrl-C and SIGTERM into one message on stderr and the right exit code.

    ``interrupted`` says what an interrupted command had done and leaves behind; the commands that write
    as they go give a function, asked at the moment of the interruption.
    """
    from expset.cli.console import report_error

    try:
        yield
    except ExpsetError as error:
        report_error(error)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write(f"interrupted; {_said(interrupted)}\n")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except Terminated:
        sys.stderr.write(f"terminated; {_said(interrupted)}\n")
        raise typer.Exit(ExitCode.TERMINATED) from None


def _said(interrupted: str | Callable[[], str]) -> str:
    return interrupted if isinstance(interrupted, str) else interrupted()


def note_removed_folders(experiment_set: Any, set_dir: Path) -> None:
    """Say which runs' folders are gone: such runs are removed from the set, not recreated or waited for."""
    import shlex

    from expset.cli.console import status

    gone = [run.name for run in experiment_set.missing]
    if not gone:
        return
    shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    status(
        "[yellow]note:[/] {} run folder{} gone, so {} removed from the set: {} (`expset remove {} RUN…` records it)",
        len(gone),
        "s are" if len(gone) != 1 else " is",
        "they are" if len(gone) != 1 else "it is",
        shown,
        shlex.quote(str(set_dir)),
    )

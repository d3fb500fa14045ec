"""The ``expset`` console script.

``expset --help`` and ``expset --version`` are answered here without importing Typer (about five
times the start-up of Python itself): on a busy login node they are the commands people type most.
The command summaries below are the ones the Typer app registers, and a test checks that this help
is exactly the help Typer prints.

Interruptions end a command cleanly, with one line and no traceback: Ctrl-C (exit 130) and SIGTERM
(exit 143, what a scheduler or ``kill`` sends) take the same path, so an unfinished set is removed
as on any failure. While the command is still starting up (importing), there is nothing to clean.
"""

from __future__ import annotations

import os
import signal
import sys

from expset.errors import ExitCode, Terminated

APP_HELP = (
    "Experiment sets for fine-tuning sweeps: a naming convention, folders, README and runs plan, "
    "approved before anything is written."
)
VERSION_HELP = "Print the version and exit."
COMMANDS = {
    "plan": "Preview the set a plan proposes; writes nothing.",
    "create": "Create the set a plan proposes, after your approval.",
    "new": "Write a plan file by answering questions.",
    "which": "Print a run's parameters, decoded from its name.",
    "scaffold": "Write each run's torchtune config and SLURM jobs.",
    "submit": "Submit each run's fine-tune and evaluation jobs to SLURM.",
    "status": "Show where every run of a set stands.",
    "models": "List the models expset knows, with their torchtune builders.",
    "schema": "Print the plan file's JSON Schema (for editors).",
    "profile": "Show or set up this cluster's folders and SLURM settings.",  # groups come last in Typer's help
}


def top_level_help() -> str:
    """The ``expset --help`` text, laid out as Typer lays it out."""
    import textwrap

    width = max(len(name) for name in COMMANDS)
    lines = ["Usage: expset [OPTIONS] COMMAND [ARGS]...", ""]
    lines += textwrap.wrap(APP_HELP, width=78, initial_indent="  ", subsequent_indent="  ")
    lines += ["", "Options:", f"  --version  {VERSION_HELP}", "  --help     Show this message and exit.", ""]
    lines += ["Commands:", *(f"  {name.ljust(width)}  {summary}" for name, summary in COMMANDS.items())]
    return "\n".join(lines) + "\n"


def build_models_without_plugin_scan() -> None:
    """Build expset's pydantic models without pydantic's scan of every installed package for plugins.

    The scan reads all distribution metadata (slow on network file systems) and the plan schema has
    no use for validation plugins. The variable is restored, so it never reaches submitted jobs.
    """
    previous = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "1"
    try:
        import expset.core.plan  # noqa: F401  (builds the plan models once, now)
    finally:
        if previous is None:
            del os.environ["PYDANTIC_DISABLE_PLUGINS"]
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = previous


def _raise_terminated(signum: int, frame: object) -> None:
    """The first SIGTERM unwinds the command; later ones are ignored, so clean-up can finish."""
    signal.signal(signal.SIGTERM, _ignore)
    raise Terminated


def _ignore(signum: int, frame: object) -> None:
    """A handler that does nothing (unlike ``SIG_IGN``, it is not inherited by programs expset starts)."""


def main() -> None:
    arguments = sys.argv[1:]
    if arguments == ["--help"]:
        sys.stdout.write(top_level_help())
        return
    if arguments == ["--version"]:
        from expset import __version__

        sys.stdout.write(f"expset {__version__}\n")
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        build_models_without_plugin_scan()
        from expset.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting; nothing was done\n")
        sys.exit(ExitCode.INTERRUPTED)
    except Terminated:
        sys.stderr.write("terminated while starting; nothing was done\n")
        sys.exit(ExitCode.TERMINATED)
    try:
        app(prog_name="expset")
    except Terminated:  # outside a command's own reporting (e.g. while parsing the command line)
        sys.stderr.write("terminated; nothing was written\n")
        sys.exit(ExitCode.TERMINATED)

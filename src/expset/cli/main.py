"""The ``expset`` console script.

``expset --help`` and ``expset --version`` are answered here without importing Typer (about five
times the start-up of Python itself): on a busy login node they are the commands people type most.
The summaries come from the command table that the Typer app is built from, and a test checks that
this help is exactly the help Typer prints.

Interruptions end a command cleanly, with one line and no traceback: Ctrl-C (exit 130) and SIGTERM
(exit 143, what a scheduler or ``kill`` sends) take the same path, so an unfinished set is removed
as on any failure. While the command is still starting up (importing), there is nothing to clean.
"""

from __future__ import annotations

import os
import signal
import sys

from expset.cli.commands import top_level_help
from expset.errors import ExitCode, Terminated


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
    """The console script: fast help and version, else the Typer app, with signals turned into exits."""
    arguments = sys.argv[1:]
    if arguments in (["--help"], ["-h"]):
        sys.stdout.write(top_level_help())
        return
    if arguments == ["--version"]:
        from expset import __version__

        sys.stdout.write(f"expset {__version__}\n")
        return
    if os.environ.get("_EXPSET_COMPLETE"):  # a Tab: the shell waits, and no plan is read
        from expset.cli.app import app

        app(prog_name="expset")
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        build_models_without_plugin_scan()
        from expset.cli.app import app
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
    except Exception as error:  # a bug: one line and exit 70, the traceback only when asked for
        if os.environ.get("EXPSET_DEBUG"):
            import traceback

            traceback.print_exc()
        sys.stderr.write(
            f"internal error: {type(error).__name__}: {error} — a bug in expset; please report it with the command "
            "(EXPSET_DEBUG=1 shows the traceback)\n"
        )
        sys.exit(ExitCode.SOFTWARE)

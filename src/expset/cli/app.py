"""The Typer app: the commands of the table in ``commands``, registered in its order.

The only module that builds the app; each command's module imports Typer and its own helpers, and
imports heavy libraries inside the command that needs them.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from expset import __version__
from expset.cli.commands import APP_HELP, COMMANDS, EXIT_CODES_HELP, HELP_OPTIONS, VERSION_HELP

app = typer.Typer(
    name="expset",
    help=APP_HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": HELP_OPTIONS},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"expset {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help=VERSION_HELP)] = False,
) -> None:
    """Experiment sets for fine-tuning sweeps."""


for _command in COMMANDS:
    _module, _, _attribute = _command.target.partition(":")
    _target = getattr(importlib.import_module(_module), _attribute)
    if _command.group:
        app.add_typer(_target, name=_command.name, short_help=_command.summary)
    else:
        app.command(_command.name, short_help=_command.summary)(_target)

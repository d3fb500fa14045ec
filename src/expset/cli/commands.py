"""The command table: every ``expset`` command, its one-line summary and where it lives.

One table feeds both the help printed without Typer (``expset --help``, answered by ``main``) and the
Typer app (``app``), so the two cannot drift apart. A command's module is imported only when the app
is built, never for the fast help, which imports nothing heavier than ``typing``.
"""

from __future__ import annotations

from typing import NamedTuple

APP_HELP = (
    "Experiment sets for fine-tuning sweeps: a naming convention, folders, README and runs plan, "
    "approved before anything is written."
)
VERSION_HELP = "Print the version and exit."
HELP_OPTIONS = ["-h", "--help"]
EXIT_CODES_HELP = (
    "Exit codes: 0 done, 1 declined, 2 bad input, 3 target exists, 4 write failed, 5 tool missing, "
    "6 SLURM refused, 7 not complete, 70 internal error, 75 set busy, 130 interrupted, 143 terminated."
)
"""What ``errors.ExitCode`` defines, in the words of the README's table."""


class Command(NamedTuple):
    """One ``expset`` command: its name, its summary in the help, and ``module:attribute`` of its function
    (or, for a group of commands such as ``profile``, of its Typer app)."""

    name: str
    summary: str
    target: str
    group: bool = False


COMMANDS = (
    Command("plan", "Preview the set a plan proposes; writes nothing.", "expset.cli.plan_commands:plan_command"),
    Command(
        "create", "Create the set a plan proposes, after your approval.", "expset.cli.plan_commands:create_command"
    ),
    Command("new", "Write a plan file by answering questions.", "expset.cli.plan_commands:new_command"),
    Command("which", "Print a run's parameters, decoded from its name.", "expset.cli.plan_commands:which_command"),
    Command(
        "scaffold", "Write each run's torchtune config and SLURM jobs.", "expset.cli.job_commands:scaffold_command"
    ),
    Command("check", "Check a set's inputs before its jobs are queued.", "expset.cli.job_commands:check_command"),
    Command(
        "submit",
        "Submit each run's fine-tune and evaluation jobs to SLURM.",
        "expset.cli.submit_commands:submit_command",
    ),
    Command("status", "Show where every run of a set stands.", "expset.cli.job_commands:status_command"),
    Command("cancel", "Cancel a set's pending and running jobs.", "expset.cli.submit_commands:cancel_command"),
    Command(
        "report",
        "Write the set's results: tables, figures, report.html.",
        "expset.cli.report_commands:report_command",
    ),
    Command(
        "extend", "Add runs to a set: new values, parameters, evaluations.", "expset.cli.set_commands:extend_command"
    ),
    Command("remove", "Remove runs from a set, folders and records.", "expset.cli.set_commands:remove_command"),
    Command(
        "clean",
        "Remove checkpoint folders to free disk, after showing them.",
        "expset.cli.clean_commands:clean_command",
    ),
    Command(
        "archive",
        "Write a set as a compressed tar, verified against its manifest.",
        "expset.cli.archive_commands:archive_command",
    ),
    Command(
        "restore",
        "Unpack an archive as a set, checked file by file.",
        "expset.cli.archive_commands:restore_command",
    ),
    Command(
        "models",
        "List the models expset knows, with their torchtune builders.",
        "expset.cli.job_commands:models_command",
    ),
    Command("schema", "Print the plan file's JSON Schema (for editors).", "expset.cli.plan_commands:schema_command"),
    Command(
        "profile",
        "Show or set up this cluster's folders and SLURM settings.",
        "expset.cli.profile_commands:profile_app",
        group=True,
    ),
)
"""In the order of the help; groups last, where Typer lists them."""


COMPLETION_OPTIONS = (
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
)
"""Typer's own completion options, as its help lists them."""


def top_level_help() -> str:
    """The ``expset --help`` text, laid out as Typer lays it out."""
    import textwrap

    width = max(len(command.name) for command in COMMANDS)
    options = [
        ("--version", VERSION_HELP),
        *COMPLETION_OPTIONS,
        (", ".join(HELP_OPTIONS), "Show this message and exit."),
    ]
    option_width = max(len(name) for name, _ in options)
    lines = ["Usage: expset [OPTIONS] COMMAND [ARGS]...", ""]
    lines += textwrap.wrap(APP_HELP, width=78, initial_indent="  ", subsequent_indent="  ")
    lines += ["", "Options:"]
    for name, text in options:
        lines += textwrap.wrap(
            text,
            width=78,
            initial_indent=f"  {name.ljust(option_width)}  ",
            subsequent_indent=" " * (option_width + 4),
        )
    lines += ["", "Commands:", *(f"  {command.name.ljust(width)}  {command.summary}" for command in COMMANDS)]
    lines += ["", *textwrap.wrap(EXIT_CODES_HELP, width=80, initial_indent="  ", subsequent_indent="  ")]
    return "\n".join(lines) + "\n"

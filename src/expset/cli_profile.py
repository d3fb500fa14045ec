"""``expset profile``: this cluster's folders and SLURM settings, shown or asked for."""

from __future__ import annotations

import sys

import typer

from expset.cli_support import reporting

profile_app = typer.Typer(no_args_is_help=True, help="This cluster's folders and SLURM settings.")


@profile_app.command("show")
def profile_show_command() -> None:
    """Print the profile's location and settings."""
    from expset.io.profile import profile_path, read_profile, render_profile

    with reporting():
        path = profile_path()
        sys.stderr.write(f"# {path}{'' if path.exists() else ' (not created yet: expset profile init)'}\n")
        sys.stdout.write(render_profile(read_profile(path)))


@profile_app.command("init")
def profile_init_command() -> None:
    """Answer questions to write the profile (existing values are offered as defaults)."""
    from expset.core.sections import Site
    from expset.io.profile import profile_path, read_profile, render_profile
    from expset.scaffold import write_atomically
    from expset.ui import prompts
    from expset.ui.console import status

    with reporting():
        path = profile_path()
        prompts.require_terminal("the profile questions", hint=f"write {path} by hand (see `expset profile show`)")
        answers = prompts.ask_profile_questions(read_profile(path).model_dump(exclude_none=True))
        write_atomically(path, render_profile(Site.model_validate(answers)))
        status(f"[green]wrote[/] {path}")

"""``expset profile``: this cluster's folders and SLURM settings, shown or asked for."""

from __future__ import annotations

import sys

import typer

from expset.cli.support import reporting

profile_app = typer.Typer(no_args_is_help=True, help="This cluster's folders and SLURM settings.")


@profile_app.command("show")
def profile_show_command() -> None:
    """Print every profile setting with its meaning; the ones not set are commented out."""
    from expset.core.site_settings import Site
    from expset.errors import ProfileError
    from expset.site import profile_path, read_profile, render_profile_reference

    with reporting():
        path = profile_path()
        missing = " (not created yet: `expset profile init` writes it, or save what follows there)"
        sys.stderr.write(f"# {path}{'' if path.exists() else missing}\n")
        try:
            site = read_profile(path)
        except ProfileError:  # still show the keys a profile takes, then say what is wrong
            sys.stdout.write(render_profile_reference(Site()))
            raise
        sys.stdout.write(render_profile_reference(site))


@profile_app.command("init")
def profile_init_command() -> None:
    """Answer questions to write the profile (existing values are offered as defaults)."""
    from expset.cli import prompts
    from expset.cli.console import status
    from expset.fs.writer import write_atomically
    from expset.site import profile_path, read_profile_data, render_profile, validate_profile

    with reporting():
        path = profile_path()
        prompts.require_terminal("the profile questions", hint=f"write {path} by hand (see `expset profile show`)")
        answers = prompts.ask_profile_questions(read_profile_data(path))  # as written: a bad value can be mended
        write_atomically(path, render_profile(validate_profile(answers, path)))
        status("[green]wrote[/] {}", path)

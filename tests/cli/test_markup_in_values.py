"""Text that looks like terminal markup (``[bold]``, ``[/]``, ``[red]x[/red]``, ``:smile:``) in a root
folder, a plan or SLURM's messages is printed as it is, and the commands behave as for any other root."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from expset.render.yaml_text import to_yaml
from expset.slurm.runner import Completed

from fake_slurm import FakeSlurm
from site_helpers import expset

ROOTS = ["a[bold]b[/]c", "[red]x[/red]", "end[/]", "s:smile:[bold]"]
SET = "scaffold-test_2025-10-18"
PURPOSE = "Does [bold]rank[/] matter? [/] \\[x] :smile:"
AUTHOR = "[red]Ada[/red]"
STYLES = ["[bold]terse[/]", "[/]verbose"]


def finished(result, exit_code: int = 0) -> None:
    """The command ended with ``exit_code`` and its own messages, not an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == exit_code, result.stderr


def create_in(site, root: Path, **changes) -> tuple[Path, object]:
    """Create the site's plan (with ``changes``) in ``root``; the set's folder and the command's result."""
    root.mkdir(parents=True, exist_ok=True)
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(**changes)))
    result = expset("create", str(plan_file), "--yes", "--root", str(root))
    return root / SET, result


def command_in(text: str, command: str) -> list[str]:
    """The words of the ``expset <command> …`` a message tells the user to run, as the shell reads them."""
    return shlex.split(text[text.index(f"expset {command} ") :].splitlines()[0])


@pytest.fixture(params=ROOTS)
def root(request, site) -> Path:
    return site.root / request.param


@pytest.fixture
def set_dir(site, root) -> Path:
    created, result = create_in(site, root)
    finished(result)
    return created


@pytest.fixture
def scaffolded(set_dir) -> Path:
    finished(expset("scaffold", str(set_dir)))
    return set_dir


def test_create_in_a_root_with_markup_prints_the_real_path(site, root):
    set_dir, result = create_in(site, root)
    finished(result)
    assert (set_dir / "README.md").is_file()
    assert f"Experiment set  {set_dir}\n" in result.stdout
    assert f"created {set_dir} (4 runs)\n" in result.stderr
    assert command_in(result.stderr, "scaffold") == ["expset", "scaffold", str(set_dir)]


def test_creating_the_same_set_again_says_it_is_up_to_date_at_the_real_path(site, set_dir, root):
    _, again = create_in(site, root)
    finished(again)
    assert f"up to date: {set_dir} already holds this set; nothing was changed\n" in again.stderr


def test_plan_shows_the_root_and_the_plan_text_as_written(site, root):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(
        to_yaml(site.plan(purpose=PURPOSE, author=AUTHOR, vary={"style": STYLES}, labels={"style": "the answer style"}))
    )
    result = expset("plan", str(plan_file), "--root", str(root))
    finished(result)
    lines = result.stdout.splitlines()
    assert f"Experiment set  {root / 'scaffold-test_2025-10-18'}" in lines
    assert f"Purpose  {PURPOSE}" in lines
    assert f"Author  {AUTHOR}   Date  2025-10-18" in lines
    assert all(any(f"│ {style} " in line for line in lines) for style in STYLES)
    assert "e.g. style-verbose = style=[/]verbose" in lines


def test_which_prints_values_with_markup_as_written(site, root):
    set_dir, created = create_in(site, root, vary={"style": STYLES}, labels={"style": "the answer style"})
    finished(created)
    result = expset("which", str(set_dir), "style-bold-terse")
    finished(result)
    assert result.stdout.splitlines()[0] == "style    [bold]terse[/]  (varied)"


def test_scaffold_in_a_root_with_markup_names_the_real_folders(site, set_dir):
    models = site.root / "m[bold]odels[/]"
    site.profile.write_text(site.profile.read_text().replace(str(site.models), str(models)))
    result = expset("scaffold", str(set_dir))
    finished(result)
    assert (set_dir / "1B_rank8" / "finetune.slurm").is_file()
    assert (
        f"before submitting: put the checkpoint of Llama-3.2-1B-Instruct in {models}/Llama-3.2-1B-Instruct "
    ) in result.stderr
    assert command_in(result.stderr, "submit") == ["expset", "submit", str(set_dir)]


def test_scaffold_dry_run_lists_the_real_paths(set_dir):
    result = expset("scaffold", "--dry-run", str(set_dir))
    finished(result)
    script = set_dir / "1B_rank8" / "finetune.slurm"
    assert any(line.endswith(f"  {script}") for line in result.stdout.splitlines())


def test_submit_dry_run_prints_the_scripts_real_paths(scaffolded, monkeypatch):
    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", FakeSlurm)
    result = expset("submit", "--dry-run", str(scaffolded))
    finished(result)
    scripts = [shlex.split(line)[-1] for line in result.stdout.splitlines()]
    assert str(scaffolded / "1B_rank8" / "finetune.slurm") in scripts


def test_submit_names_the_runs_and_the_real_set_to_follow(scaffolded, monkeypatch):
    slurm = FakeSlurm()
    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", lambda: slurm)
    result = expset("submit", str(scaffolded))
    finished(result)
    assert "submitted 1B_rank8: finetune 101, " in result.stderr
    assert command_in(result.stderr, "status") == ["expset", "status", str(scaffolded)]


def test_a_slurm_refusal_with_markup_is_reported_as_slurm_wrote_it(scaffolded, monkeypatch):
    message = "sbatch: error: [/] account [bold]lab[/bold] :smile:"
    slurm = FakeSlurm(on_sbatch=lambda n, argv: Completed(tuple(argv), 1, "", message))
    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", lambda: slurm)
    result = expset("submit", str(scaffolded))
    finished(result, 6)
    script = scaffolded / "1B_rank8" / "finetune.slurm"
    assert f"error: sbatch refused {script}: {message}\n" in result.stderr


def test_status_in_a_root_with_markup_points_at_the_real_folder(scaffolded, monkeypatch):
    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", FakeSlurm)
    result = expset("status", str(scaffolded))
    finished(result, 7)
    assert "│ 1B_rank8 " in result.stdout
    assert f"`inspect view --log-dir {scaffolded}`" in result.stdout


def test_a_slurm_message_with_markup_is_shown_as_a_note_as_written(scaffolded, monkeypatch):
    message = "squeue: error: [/] controller [red]down[/red]"

    class Refusing(FakeSlurm):
        def run(self, argv, *, cwd=None, timeout=60):
            return Completed(tuple(argv), 1, "", message) if argv[0] == "squeue" else super().run(argv)

    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", Refusing)
    result = expset("status", str(scaffolded))
    finished(result, 7)
    assert f"note: squeue failed: {message} — states" in result.stdout


def test_new_names_the_plan_file_it_wrote_as_it_is(site, monkeypatch):
    from expset.cli import prompts

    output = site.root / "p[bold]lan[/].yaml"
    output.parent.mkdir()
    plan = site.plan(purpose=PURPOSE, notes="[/] see [red]x[/red]")
    monkeypatch.setattr(prompts, "require_terminal", lambda what, hint: None)
    monkeypatch.setattr(prompts, "ask_plan_questions", lambda author, **offered: plan)
    monkeypatch.setattr(prompts, "ask_confirm", lambda message, default=True: False)
    result = expset("new", "--output", str(output))
    finished(result)
    assert f"wrote {output}\n" in result.stderr
    assert command_in(result.stderr, "create") == ["expset", "create", str(output)]


def test_profile_init_names_the_profile_it_wrote_as_it_is(site, monkeypatch):
    from expset.cli import prompts

    profile = site.root / "[red]x[/red]" / "profile.toml"
    profile.parent.mkdir(parents=True)
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    monkeypatch.setattr(prompts, "require_terminal", lambda what, hint: None)
    monkeypatch.setattr(prompts, "ask_profile_questions", lambda current: {"root": str(site.root / "[/]")})
    result = expset("profile", "init")
    finished(result)
    assert result.stderr == f"wrote {profile}\n"


def test_the_installed_command_creates_and_scaffolds_in_a_root_with_markup(site):
    root = site.root / "a[/]b"
    root.mkdir(parents=True)
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan()))
    command = Path(sys.executable).parent / "expset"
    created = subprocess.run(
        [command, "create", str(plan_file), "--yes", "--root", str(root)], capture_output=True, text=True
    )
    assert created.returncode == 0 and "Traceback" not in created.stderr, created.stderr
    assert f"created {root / SET} (4 runs)\n" in created.stderr
    scaffolded = subprocess.run([command, "scaffold", str(root / SET)], capture_output=True, text=True)
    assert scaffolded.returncode == 0 and "Traceback" not in scaffolded.stderr, scaffolded.stderr
    assert command_in(scaffolded.stderr, "submit") == ["expset", "submit", str(root / SET)]

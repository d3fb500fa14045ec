"""The conventions a researcher's terminal and fingers expect: ``-h``, colour only where wanted, results on
standard output and everything else on standard error, plain words for a folder that is not a set."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_expset

ESCAPE = "\x1b["


def in_a_terminal(*args: str, env: dict[str, str]) -> str:
    """What ``expset`` writes when standard output and standard error are a terminal (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "expset", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm-256color", **env},
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done writing
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(leader)
    return output.decode("utf-8", "replace")


@pytest.fixture
def plain(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def test_h_is_help_for_expset_and_for_every_command():
    assert run_expset("-h").stdout == run_expset("--help").stdout
    for command in ("plan", "status", "extend", "profile"):
        short, long = run_expset(command, "-h"), run_expset(command, "--help")
        assert short.returncode == 0 and short.stdout == long.stdout and short.stdout.startswith("Usage: expset")


def test_the_help_lists_the_exit_codes_and_the_completion_options():
    text = run_expset("--help").stdout
    assert "Exit codes: 0 done, 1 declined, 2 bad input, 3 target exists, 4 write failed" in text
    assert "--install-completion" in text and "--show-completion" in text


def test_a_terminal_gets_colour(plain):
    assert ESCAPE in in_a_terminal("plan", "--example", "size-rank", env={})
    assert ESCAPE in in_a_terminal("status", "/no/such/folder", env={})


def test_no_color_leaves_every_escape_code_out_even_in_a_terminal(plain):
    assert ESCAPE not in in_a_terminal("plan", "--example", "size-rank", env={"NO_COLOR": "1"})
    assert ESCAPE not in in_a_terminal("status", "/no/such/folder", env={"NO_COLOR": "1"})


def test_force_color_colours_even_a_pipe(plain):
    proposal = run_expset("plan", "--example", "size-rank", env={"FORCE_COLOR": "1"})
    assert ESCAPE in proposal.stdout
    assert ESCAPE in run_expset("status", "/no/such/folder", env={"FORCE_COLOR": "1"}).stderr


def test_no_color_wins_over_force_color(plain):
    proposal = run_expset("plan", "--example", "size-rank", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ESCAPE not in proposal.stdout + proposal.stderr


def test_a_pipe_gets_no_escape_codes(plain):
    proposal = run_expset("plan", "--example", "size-rank")
    error = run_expset("status", "/no/such/folder")
    assert ESCAPE not in proposal.stdout + proposal.stderr + error.stdout + error.stderr


def test_the_proposal_is_on_standard_output_and_notes_on_standard_error(tmp_path):
    result = run_expset("plan", "--example", "size-rank")
    assert result.returncode == 0
    assert result.stdout.startswith("Experiment set")
    assert "Experiment set" not in result.stderr


def test_status_json_is_the_only_thing_on_standard_output(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    created = run_expset("create", "--example", "size-rank", "--yes", "--root", str(root))
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Experiment set")  # the proposal; "created …" went to standard error
    assert "created" in created.stderr and "created" not in created.stdout
    [set_dir] = list(root.iterdir())
    (set_dir / "1B_rank8" / "run.yaml").unlink()
    (set_dir / "1B_rank8" / "evaluations" / "capitalization").rmdir()
    (set_dir / "1B_rank8" / "evaluations" / "arithmetic").rmdir()
    (set_dir / "1B_rank8" / "evaluations").rmdir()
    (set_dir / "1B_rank8").rmdir()
    status = run_expset("status", str(set_dir), "--json")
    assert status.returncode == 7
    document = json.loads(status.stdout)  # the note on the removed run is on standard error
    assert document["removed"] == ["1B_rank8"] and "1B_rank8" in status.stderr
    which = run_expset("which", str(set_dir), "3B_rank16", "--json")
    assert json.loads(which.stdout)["varied"]["lora_rank"] == 16


def test_a_folder_that_does_not_exist_is_said_to_be_missing_first():
    result = run_expset("status", "/no/such/folder")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "error: /no/such/folder: no such folder"


def test_a_plan_file_given_for_a_set_points_to_create(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("purpose: test\nvary: {lora_rank: [8, 16]}\n")
    result = run_expset("scaffold", str(plan))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {plan} is a plan file, not a set",
        f"hint: create the set it plans with: expset create {plan}",
    ]


def test_a_run_folder_given_for_a_set_names_its_set(tmp_path):
    (tmp_path / "root").mkdir()
    run_expset("create", "--example", "size-rank", "--yes", "--root", str(tmp_path / "root"))
    [set_dir] = list((tmp_path / "root").iterdir())
    result = run_expset("status", str(set_dir / "1B_rank8"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {set_dir / '1B_rank8'} is a run folder, not a set",
        f"hint: give its set's folder: {set_dir}",
    ]


def test_a_folder_without_a_record_is_not_a_set(tmp_path):
    assert "is not an experiment set (no expset.yaml)" in run_expset("status", str(tmp_path)).stderr


def test_readme_lists_every_exit_code_the_errors_define():
    from expset.errors import ExitCode

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = {name: value for name, value in vars(ExitCode).items() if isinstance(value, int)}
    for name, value in codes.items():
        assert f"| {value} |" in section, name
    from expset.cli.commands import EXIT_CODES_HELP

    assert all(f" {value} " in EXIT_CODES_HELP for value in codes.values())


def test_a_bug_is_one_line_and_exit_70(monkeypatch, capsys):
    from expset.cli import main

    class Broken(dict):
        def items(self):
            raise RuntimeError("the model table broke")

    monkeypatch.setattr("expset.core.models.MODELS", Broken())
    monkeypatch.setattr(sys, "argv", ["expset", "models"])
    with pytest.raises(SystemExit) as exited:
        main.main()
    assert exited.value.code == 70
    assert capsys.readouterr().err.splitlines() == [
        "internal error: RuntimeError: the model table broke — a bug in expset; please report it with the command "
        "(EXPSET_DEBUG=1 shows the traceback)"
    ]

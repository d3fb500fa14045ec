"""Shell completion, through the protocol the shells speak: set folders, a set's runs, examples, models."""

from __future__ import annotations

import pytest

from helpers import run_expset


def complete(line: str, cwd, shell: str = "bash", at: int | None = None) -> list[str]:
    """What ``expset`` answers for a Tab at the end of ``line`` (or in its word ``at``), as bash (or zsh) asks."""
    words = line.split()
    current = at if at is not None else len(words) if line.endswith(" ") else len(words) - 1
    if shell == "bash":
        env = {"COMP_WORDS": line, "COMP_CWORD": str(current), "_EXPSET_COMPLETE": "complete_bash"}
    else:
        env = {"_TYPER_COMPLETE_ARGS": line, "_EXPSET_COMPLETE": "complete_zsh"}
    result = run_expset(cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "scratch"
    folder.mkdir()
    created = run_expset("create", "--example", "size-rank", "--yes", "--root", str(folder))
    assert created.returncode == 0, created.stderr
    (folder / "notes").mkdir()
    return folder


SET = "llama-lora-comparison_"


def the_set(root) -> str:
    [name] = [path.name for path in root.iterdir() if path.name.startswith(SET)]
    return name


def test_commands_complete(root):
    assert complete("expset st", root) == ["status"]


def test_set_folders_complete_first_and_other_folders_to_go_into(root):
    assert complete("expset status ", root) == [the_set(root), "notes/"]
    assert complete("expset status ll", root) == [the_set(root)]
    assert complete(f"expset status {root}/", root.parent) == [f"{root}/{the_set(root)}", f"{root}/notes/"]


def test_the_runs_of_the_set_on_the_line_complete_for_which_and_runs(root):
    name = the_set(root)
    assert complete(f"expset which {name} 1B", root) == ["1B_rank16", "1B_rank8"]
    assert complete(f"expset scaffold {name} --runs 1B_rank8,3", root) == ["1B_rank8,3B_rank16", "1B_rank8,3B_rank8"]
    assert complete(f"expset submit --runs base {name}", root, at=3) == ["base_1B", "base_3B"]


def test_zsh_is_answered_from_the_words_it_sends(root):
    assert "3B_rank8" in " ".join(complete(f"expset scaffold {the_set(root)} --runs 3B", root, shell="zsh"))


def test_examples_and_models_complete(root):
    assert complete("expset plan --example si", root) == ["size-rank"]
    assert complete("expset plan --fixed model=Qwen2.5-1.5", root) == [
        "model=Qwen2.5-1.5B",
        "model=Qwen2.5-1.5B-Instruct",
    ]
    assert complete("expset plan --vary lora_rank=", root) == []


def test_the_completion_script_is_shown_for_bash():
    shown = run_expset("--show-completion", "bash")
    assert shown.returncode == 0
    assert "_EXPSET_COMPLETE=complete_bash" in shown.stdout


def test_folders_under_home_and_variables_complete_as_typed(root, monkeypatch):
    monkeypatch.setenv("SCRATCH", str(root))
    assert complete("expset status $SCRATCH/ll", root.parent) == [f"$SCRATCH/{the_set(root)}"]
    monkeypatch.setenv("HOME", str(root.parent))
    assert complete(f"expset status ~/{root.name}/no", root) == [f"~/{root.name}/notes/"]


def test_remove_completes_the_runs_of_the_set(root):
    assert complete(f"expset remove {the_set(root)} base", root) == ["base_1B", "base_3B"]

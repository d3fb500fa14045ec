"""``--eval`` names a task file or a bundled task, never nothing; ``create`` says where the set went
and prints next steps that work when followed, as does ``scaffold``."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from expset.render.yaml_read import load_yaml

from site_helpers import expset

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "expset" / "examples"
REPOSITORY = Path(__file__).resolve().parents[2]
FLAGS = [
    "--purpose",
    "Evaluate with my own task.",
    "--name",
    "own task",
    "--date",
    "2025-10-18",
    "--vary",
    "lora_rank=8,16",
    "--fixed",
    "model=Llama-3.2-1B-Instruct",
]
SET = "own-task_2025-10-18"


def recorded_evaluations(set_dir: Path) -> list:
    return load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")["plan"]["evaluations"]


@pytest.fixture
def task_file(isolated_environment) -> Path:
    (isolated_environment / "tasks").mkdir()
    path = isolated_environment / "tasks" / "mine.py"
    path.write_text("# an inspect task file\n")
    return path


@pytest.fixture
def models_folder(isolated_environment, monkeypatch) -> Path:
    models = isolated_environment / "models"
    models.mkdir()
    (isolated_environment / "profile.toml").write_text(f'models_folder = "{models}"\n')
    monkeypatch.setenv("EXPSET_PROFILE", str(isolated_environment / "profile.toml"))
    return models


def test_eval_with_a_task_file_records_it_absolute(task_file, isolated_environment):
    result = expset("create", "--yes", *FLAGS, "--eval", "mine=tasks/mine.py@mine")
    assert result.exit_code == 0, result.stderr
    assert recorded_evaluations(isolated_environment / SET) == [{"name": "mine", "task": f"{task_file}@mine"}]


def test_eval_with_a_task_file_makes_the_same_plan_as_the_plan_file_form(task_file, isolated_environment):
    assert expset("create", "--yes", *FLAGS, "--eval", "mine=tasks/mine.py@mine").exit_code == 0
    plan = isolated_environment / "plan.yaml"
    plan.write_text("evaluations: [{name: mine, task: tasks/mine.py@mine}]\n")
    result = expset("create", str(plan), "--yes", *FLAGS)
    assert result.exit_code == 0, result.stderr
    assert "up to date" in result.stderr


def test_a_bare_eval_runs_the_bundled_task_of_that_name(isolated_environment):
    assert expset("create", "--yes", *FLAGS, "--eval", "arithmetic").exit_code == 0
    task = f"{EXAMPLES / 'tasks' / 'arithmetic.py'}@arithmetic"
    assert recorded_evaluations(isolated_environment / SET) == [{"name": "arithmetic", "task": task}]


def test_a_bare_eval_that_no_bundled_task_answers_is_refused_with_the_fix(isolated_environment):
    result = expset("create", "--yes", *FLAGS, "--eval", "unknownname")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: --eval 'unknownname': ")
    assert "--eval unknownname=path/to/task.py@task_name" in line and "arithmetic" in line
    assert os.listdir(isolated_environment) == []


def test_the_scaffolded_evaluation_runs_the_task_file_given_with_eval(task_file, models_folder, isolated_environment):
    data = isolated_environment / "train.json"
    data.write_text('[{"input": "a", "output": "A"}]\n')
    flags = [*FLAGS, "--fixed", f"dataset={data}", "--eval", "mine=tasks/mine.py@mine"]
    assert expset("create", "--yes", *flags).exit_code == 0
    result = expset("scaffold", str(isolated_environment / SET))
    assert result.exit_code == 0, result.stderr
    script = (isolated_environment / SET / "rank8" / "evaluations" / "mine" / "evaluate_epoch_0.slurm").read_text()
    assert f"inspect eval {task_file}@mine" in script


def test_create_without_a_root_says_where_the_set_went(isolated_environment):
    result = expset("create", "--example", "size-rank", "--yes")
    [created] = [line for line in result.stderr.splitlines() if line.startswith("created ")]
    assert created.startswith(f"created {isolated_environment}/llama-lora-comparison_")
    assert "in the current folder" in created


def test_without_a_models_folder_the_next_step_is_to_set_one_and_following_it_lets_scaffold_work(
    isolated_environment, monkeypatch
):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    result = expset("create", "--example", "size-rank", "--yes")
    assert result.exit_code == 0, result.stderr
    steps = [line for line in result.stderr.splitlines() if line.startswith(("next:", "then:"))]
    assert steps[0].startswith("next: set the models folder") and "expset profile init" in steps[0]
    assert f'write models_folder = "/path/to/models" in {profile}' in steps[0]
    assert steps[1].startswith("then: ") and "expset scaffold /" in steps[1]
    (isolated_environment / "models").mkdir()
    profile.write_text(f'models_folder = "{isolated_environment / "models"}"\n')
    scaffold = expset(*re.search(r"(expset scaffold \S+)$", steps[1]).group(1).split()[1:])
    assert scaffold.exit_code == 0, scaffold.stderr


def test_with_a_models_folder_the_next_step_is_scaffold(models_folder, isolated_environment):
    result = expset("create", "--example", "size-rank", "--yes")
    steps = [line for line in result.stderr.splitlines() if line.startswith(("next:", "then:"))]
    assert len(steps) == 1 and steps[0].startswith("next: generate each run's torchtune config")


def test_after_scaffold_a_missing_checkpoint_folder_is_named_before_submit(models_folder, isolated_environment):
    (models_folder / "Llama-3.2-1B-Instruct").mkdir()
    expset("create", "--example", "size-rank", "--yes")
    [set_dir] = isolated_environment.glob("llama-lora-comparison_*")
    result = expset("scaffold", str(set_dir))
    notes = [line for line in result.stderr.splitlines() if line.startswith("before submitting:")]
    assert notes == [
        f"before submitting: put the checkpoint of Llama-3.2-3B-Instruct in {models_folder}/Llama-3.2-3B-Instruct "
        "(its Hugging Face files, e.g. fetched with `tune download`): the fine-tune reads the model from there"
    ]
    assert f"next: submit the fine-tunes and their evaluations with expset submit {set_dir}" in result.stderr


def test_an_evaluation_without_a_task_is_pointed_out_when_the_set_is_created(isolated_environment):
    plan = isolated_environment / "plan.yaml"
    plan.write_text("purpose: Folders only.\nvary: {lora_rank: [8, 16]}\nevaluations: [fluency]\n")
    result = expset("create", str(plan), "--yes")
    assert result.exit_code == 0
    assert "note: fluency names no inspect task, so `expset scaffold` will refuse this set" in result.stderr


def test_a_set_made_in_the_repository_clone_is_ignored_by_git(isolated_environment):
    name = Path(json.loads(expset("plan", "--example", "size-rank", "--json").stdout)["path"]).name
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(REPOSITORY / name / "expset.yaml")], cwd=REPOSITORY, timeout=30
    )
    assert ignored.returncode == 0

"""The built wheel carries its templates and examples, and creates a set from them alone."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("expset-*.whl")
    return built


def test_the_wheel_holds_the_templates_and_the_examples(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ["README.md.j2", "runs_plan.md.j2", "run.yaml.j2"]:
        assert f"expset/templates/{expected}" in names
    for example in ["size-rank", "datasets", "lr-rank"]:
        assert f"expset/examples/{example}.yaml" in names


def test_the_wheel_holds_the_examples_tasks_and_training_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for task in ["capitalization", "arithmetic", "acs_income"]:
        assert f"expset/examples/tasks/{task}.py" in names
    for data in ["words_alpaca.json", "arithmetic_train.jsonl", "census/acs income v1.json"]:
        assert f"expset/examples/data/{data}" in names


def test_the_unpacked_wheel_creates_the_example_set(wheel, tmp_path, isolated_environment):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    environment = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    location = subprocess.run(
        [sys.executable, "-c", "import expset; print(expset.__file__)"], env=environment, capture_output=True, text=True
    ).stdout
    assert location.startswith(str(site)), location
    completed = subprocess.run(
        [sys.executable, "-m", "expset", "create", "--example", "size-rank", "--yes"],
        env=environment,
        cwd=isolated_environment,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    [created] = isolated_environment.glob("llama-lora-comparison_*")
    assert (created / "README.md").is_file() and (created / "3B_rank16" / "evaluations" / "arithmetic").is_dir()


def test_the_unpacked_wheel_scaffolds_the_example_with_its_own_task_files(wheel, tmp_path, isolated_environment):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    (tmp_path / "models").mkdir()
    (tmp_path / "profile.toml").write_text(f'models_folder = "{tmp_path / "models"}"\n')
    environment = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    environment["EXPSET_PROFILE"] = str(tmp_path / "profile.toml")

    def expset(*args: str) -> None:
        command = [sys.executable, "-m", "expset", *args]
        completed = subprocess.run(command, env=environment, cwd=isolated_environment, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr

    expset("create", "--example", "size-rank", "--yes")
    [created] = isolated_environment.glob("llama-lora-comparison_*")
    expset("scaffold", str(created))
    script = created / "1B_rank8" / "evaluations" / "arithmetic" / "evaluate_epoch_1.slurm"
    assert f"inspect eval {site}/expset/examples/tasks/arithmetic.py@arithmetic" in script.read_text()

"""The bundled examples carry what their journey needs: with only a models folder set, each one is
created and scaffolded, and its jobs point at the task files and data bundled with expset."""

import json
import shlex
from pathlib import Path

import pytest

from expset.render.yaml_read import load_yaml

from site_helpers import expset

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "expset" / "examples"


@pytest.fixture
def models_profile(tmp_path, monkeypatch) -> Path:
    """A profile that sets the models folder and nothing else."""
    models = tmp_path / "models"
    models.mkdir()
    profile = tmp_path / "profile.toml"
    profile.write_text(f'models_folder = "{models}"\n')
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    return profile


def create_example(name: str, root: Path) -> Path:
    result = expset("create", "--example", name, "--yes", "--root", str(root))
    assert result.exit_code == 0, result.stderr
    [set_dir] = [path for path in root.iterdir() if (path / "expset.yaml").is_file()]
    return set_dir


def evaluated_tasks(set_dir: Path) -> set[str]:
    """The ``FILE@TASK`` every evaluation script of the set passes to ``inspect eval``."""
    tasks = set()
    for script in set_dir.glob("*/evaluations/*/evaluate_epoch_*.slurm"):
        [line] = [line.strip() for line in script.read_text().splitlines() if line.strip().startswith("inspect eval ")]
        tasks.add(shlex.split(line.rstrip("\\"))[2])
    return tasks


@pytest.mark.parametrize(
    ("example", "tasks"),
    [
        ("size-rank", {"capitalization", "arithmetic"}),
        ("datasets", {"acs_income"}),
        ("lr-rank", {"arithmetic"}),
    ],
)
def test_an_example_set_is_created_then_scaffolded_with_only_a_models_folder(
    example, tasks, models_profile, isolated_environment
):
    set_dir = create_example(example, isolated_environment)
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0, result.stderr
    assert evaluated_tasks(set_dir) == {f"{EXAMPLES / 'tasks' / task}.py@{task}" for task in tasks}


def test_the_example_trains_on_its_bundled_data(models_profile, isolated_environment):
    set_dir = create_example("size-rank", isolated_environment)
    expset("scaffold", str(set_dir))
    config = load_yaml((set_dir / "1B_rank8" / "finetune.yaml").read_text(), "finetune.yaml")
    assert config["dataset"]["data_files"] == str(EXAMPLES / "data" / "words_alpaca.json")
    assert config["dataset"]["_component_"] == "torchtune.datasets.instruct_dataset"


def test_the_set_records_the_bundled_files_by_absolute_path_and_still_decodes_run_names(
    models_profile, isolated_environment
):
    set_dir = create_example("datasets", isolated_environment)
    plan = load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")["plan"]
    assert plan["evaluations"] == [{"name": "acs_income", "task": f"{EXAMPLES / 'tasks' / 'acs_income.py'}@acs_income"}]
    result = expset("which", str(set_dir), "acs2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["varied"] == {"dataset": str(EXAMPLES / "data" / "census" / "acs income v2.json")}


def test_a_plans_relative_paths_are_read_from_its_own_folder_not_from_where_commands_run(
    models_profile, isolated_environment, monkeypatch
):
    project = isolated_environment / "project"
    (project / "tasks").mkdir(parents=True)
    (project / "tasks" / "mine.py").write_text("# an inspect task file\n")
    (project / "data").mkdir()
    (project / "data" / "train.json").write_text('[{"input": "a", "output": "A"}]\n')
    (project / "plan.yaml").write_text(
        "name: relative paths\ndate: 2025-10-18\npurpose: Paths from the plan's folder.\n"
        "vary: {lora_rank: [8, 16]}\n"
        "fixed: {model: Llama-3.2-1B-Instruct, dataset: ./data/train.json}\n"
        "evaluations: [{name: mine, task: tasks/mine.py@mine}]\n"
    )
    elsewhere = isolated_environment / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert expset("create", str(project / "plan.yaml"), "--yes").exit_code == 0
    set_dir = elsewhere / "relative-paths_2025-10-18"
    monkeypatch.chdir(isolated_environment)
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0, result.stderr
    assert evaluated_tasks(set_dir) == {f"{project / 'tasks' / 'mine.py'}@mine"}
    setup = load_yaml((set_dir / "rank8" / "setup_finetune.yaml").read_text(), "setup")
    assert setup["data"]["path"] == str(project / "data" / "train.json")

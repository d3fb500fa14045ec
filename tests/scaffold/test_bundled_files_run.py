"""The files bundled with the examples work in the programs that use them, offline: each inspect task
runs under ``inspect eval`` and scores right answers as right, and each training set loads in
torchtune exactly as a scaffolded ``finetune.yaml`` describes it."""

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from expset.render.yaml_read import load_yaml

from e2e.tiny_model import make_tiny_model
from site_helpers import expset

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "expset" / "examples"
TASKS = ["capitalization", "arithmetic", "acs_income"]


def inspect_program() -> str:
    return shutil.which("inspect", path=str(Path(sys.executable).parent)) or "inspect"


@pytest.mark.parametrize("task", TASKS)
def test_a_bundled_task_runs_under_inspect_eval_offline(task, offline_inspect, tmp_path):
    from inspect_ai.log import list_eval_logs, read_eval_log

    task_file = f"{EXAMPLES / 'tasks' / task}.py@{task}"
    completed = subprocess.run(
        [
            inspect_program(),
            "eval",
            task_file,
            "--model",
            "mockllm/model",
            "--log-dir",
            str(tmp_path),
            "--display",
            "none",
        ],
        env={**os.environ, **offline_inspect},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    [info] = list_eval_logs(str(tmp_path))
    log = read_eval_log(info)
    assert (log.status, log.eval.task.replace("-", "_")) == ("success", task)
    assert len(log.samples) >= 4


@pytest.mark.parametrize(("task", "args"), [("capitalization", {}), ("arithmetic", {"level": 2}), ("acs_income", {})])
def test_a_model_that_gives_every_expected_answer_scores_full_marks(task, args, offline_inspect, monkeypatch, tmp_path):
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, get_model

    for name, value in offline_inspect.items():
        monkeypatch.setenv(name, value)
    defined = runpy.run_path(str(EXAMPLES / "tasks" / f"{task}.py"))[task](**args)
    answers = [ModelOutput.from_content("mockllm/model", sample.target) for sample in defined.dataset]
    model = get_model("mockllm/model", custom_outputs=answers)
    [log] = inspect_eval(defined, model=model, log_dir=str(tmp_path), display="none", max_samples=1)
    assert log.status == "success"
    assert log.results.scores[0].metrics["accuracy"].value == 1.0


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A small SentencePiece tokenizer of the kind torchtune's Llama 2 models use."""
    from torchtune.models.llama2 import llama2_tokenizer

    folder = tmp_path_factory.mktemp("tiny")
    make_tiny_model(folder)
    return llama2_tokenizer(path=str(folder / "tokenizer.model"), max_seq_len=512)


@pytest.mark.parametrize("example", ["size-rank", "datasets", "lr-rank"])
def test_an_examples_training_data_loads_in_torchtune_as_its_config_says(
    example, tokenizer, isolated_environment, monkeypatch
):
    from omegaconf import OmegaConf
    from torchtune import config

    models = isolated_environment / "models"
    models.mkdir()
    (isolated_environment / "profile.toml").write_text(f'models_folder = "{models}"\n')
    monkeypatch.setenv("EXPSET_PROFILE", str(isolated_environment / "profile.toml"))
    monkeypatch.setenv("HF_HOME", str(isolated_environment / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert expset("create", "--example", example, "--yes").exit_code == 0
    [set_dir] = [path for path in isolated_environment.iterdir() if (path / "expset.yaml").is_file()]
    assert expset("scaffold", str(set_dir)).exit_code == 0
    sections = {}
    for finetune in set_dir.glob("*/finetune.yaml"):
        section = load_yaml(finetune.read_text(), str(finetune))["dataset"]
        sections[section["data_files"]] = section
    for section in sections.values():
        dataset = config.instantiate(OmegaConf.create(section), tokenizer)
        assert len(dataset) >= 12
        first = dataset[0]
        assert len(first["tokens"]) == len(first["labels"]) > 0
        assert any(label >= 0 for label in first["labels"])  # the answer is trained on

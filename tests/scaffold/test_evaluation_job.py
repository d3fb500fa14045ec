"""The generated evaluation job, run for real: inspect-ai writes its log into the task folder with the
run's parameters as metadata, the job finds exactly the log it wrote even when the jobs of several
epochs run at once in one folder, and it fails when the evaluation did (``inspect eval`` does not)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from expset.core.models import ModelSpec
from torchtune_reader import component_arguments, torchtune_reads

from site_helpers import expset

TASKS = """\
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import solver


@task
def works():
    return Task(dataset=[Sample(input="hello", target="hello")], scorer=includes())


@solver
def crash():
    async def solve(state, generate):
        raise RuntimeError("the evaluation breaks")

    return solve


@task
def templated(prompt_template: str | None = None):
    question = "hello"
    text = question if prompt_template is None else prompt_template.replace("{input}", question)
    return Task(dataset=[Sample(input=text, target="hello")], scorer=includes())


@task
def breaks():
    return Task(dataset=[Sample(input="hello", target="hello")], solver=crash(), scorer=includes())
"""

# Stands in for `inspect` on PATH: the real inspect-ai, given an offline mock model instead of the
# run's checkpoint (which only a real fine-tune produces); every other argument passes through.
INSPECT_WITH_MOCK_MODEL = f"""#!{sys.executable}
import sys
from inspect_ai._cli.main import main
args, skip = [], False
for arg in sys.argv[1:]:
    if skip:
        skip = False
    elif arg in ("--model", "-M"):
        skip = True
    else:
        args.append(arg)
sys.argv = ["inspect", *args, "--model", "mockllm/model"]
main()
"""


@pytest.fixture
def scaffolded(site):
    tasks = site.root / "eval_tasks.py"
    tasks.write_text(TASKS)
    tiny = ModelSpec(
        builder="torchtune.models.llama2.lora_llama2",
        tokenizer="torchtune.models.llama2.llama2_tokenizer",
        tokenizer_files={"path": "tokenizer.model"},
        folder="tiny",
        checkpoint_files=["m.safetensors"],
        model_type="LLAMA2",
        device="cpu",
        dtype="fp32",
    )
    set_dir = site.create(
        vary={"lr": [1e-4, 2e-4]},
        fixed={"model": "tiny", "dataset": "words", "epochs": 2, "lora_rank": 4},
        models={"tiny": tiny.model_dump(exclude_defaults=True)},
        evaluations=[
            {"name": "works", "task": f"{tasks}@works", "epochs": "all"},
            {"name": "breaks", "task": f"{tasks}@breaks"},
        ],
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    stand_in_checkpoints(set_dir)
    return set_dir


def stand_in_checkpoints(set_dir: Path) -> None:
    """Each run's epoch folders, holding whole weights as far as the job can tell: the mock model loads none."""
    for run in ("lr1e-4", "lr2e-4", "rank4", "rank8"):
        for epoch in (0, 1):
            folder = set_dir / run / f"epoch_{epoch}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "model.safetensors").write_bytes(b"")


def start_job(script: Path, tmp_path: Path, environment: dict[str, str], job_id: str) -> subprocess.Popen[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "inspect").write_text(INSPECT_WITH_MOCK_MODEL)
    (bin_dir / "inspect").chmod(0o755)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')  # the environment's python
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, **environment, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": job_id}
    return subprocess.Popen(
        ["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )


def run_job(script: Path, tmp_path: Path, environment: dict[str, str], job_id: str = "101"):
    job = start_job(script, tmp_path, environment, job_id)
    stdout, stderr = job.communicate(timeout=300)
    return subprocess.CompletedProcess(job.args, job.returncode, stdout, stderr)


def test_a_successful_evaluation_leaves_its_log_in_the_task_folder_with_the_runs_parameters(
    scaffolded, tmp_path, offline_inspect
):
    from inspect_ai.log import list_eval_logs, read_eval_log

    task_dir = scaffolded / "lr1e-4" / "evaluations" / "works"
    ran = run_job(task_dir / "evaluate_epoch_0.slurm", tmp_path, offline_inspect)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "expset: evaluation succeeded" in ran.stdout
    [log_info] = list_eval_logs(str(task_dir))
    log = read_eval_log(log_info.name, header_only=True)
    assert log.status == "success"
    assert log.eval.metadata == {
        "expset_set": "scaffold-test_2025-10-18",
        "expset_run": "lr1e-4",
        "expset_kind": "fine-tuned",
        "expset_epoch": 0,
        "expset_job": 101,  # inspect reads metadata values as YAML
        "lr": 0.0001,
        "model": "tiny",
        "dataset": "words",
        "epochs": 2,
        "lora_rank": 4,
    }


def test_jobs_of_two_epochs_started_together_in_one_folder_each_record_their_own_log(
    scaffolded, tmp_path, offline_inspect
):
    from inspect_ai.log import read_eval_log

    task_dir = scaffolded / "lr1e-4" / "evaluations" / "works"
    jobs = {
        epoch: start_job(task_dir / f"evaluate_epoch_{epoch}.slurm", tmp_path, offline_inspect, job_id)
        for epoch, job_id in ((0, "201"), (1, "202"))
    }
    for job in jobs.values():
        _, stderr = job.communicate(timeout=300)
        assert job.returncode == 0, stderr[-2000:]
    for epoch, job_id in ((0, "201"), (1, "202")):
        record = json.loads((task_dir / f"result_epoch_{epoch}.job{job_id}.json").read_text())
        assert record["status"] == "success" and record["epoch"] == epoch and record["job"] == job_id
        log = read_eval_log(str(scaffolded / "lr1e-4" / record["log"]), header_only=True)
        assert log.eval.metadata["expset_epoch"] == epoch and str(log.eval.metadata["expset_job"]) == job_id


def test_a_rerun_leaves_the_earlier_log_and_records_its_own(scaffolded, tmp_path, offline_inspect):
    task_dir = scaffolded / "lr1e-4" / "evaluations" / "works"
    for job_id in ("301", "302"):
        assert run_job(task_dir / "evaluate_epoch_1.slurm", tmp_path, offline_inspect, job_id).returncode == 0
    first = json.loads((task_dir / "result_epoch_1.job301.json").read_text())["log"]
    second = json.loads((task_dir / "result_epoch_1.job302.json").read_text())["log"]
    assert first != second and (scaffolded / "lr1e-4" / first).is_file() and (scaffolded / "lr1e-4" / second).is_file()


def test_a_failed_evaluation_fails_the_job_although_inspect_exits_0(scaffolded, tmp_path, offline_inspect):
    task_dir = scaffolded / "lr2e-4" / "evaluations" / "breaks"
    ran = run_job(task_dir / "evaluate_epoch_1.slurm", tmp_path, offline_inspect)
    assert ran.returncode == 1
    assert "evaluation status is 'error', not 'success'" in ran.stderr
    record = json.loads((task_dir / "result_epoch_1.job101.json").read_text())
    assert record["status"] == "error" and record["exit_code"] == 1 and record["log"].endswith(".eval")


SYSTEM = "You are terse. Answer in one word; ${HOME} and 'quotes' stay as written."
TEMPLATE = "Question: {input}\nAnswer:"


def test_the_prompt_and_generation_settings_reach_the_evaluation_log(site, tmp_path, offline_inspect):
    from inspect_ai.log import list_eval_logs, read_eval_log

    tasks = site.root / "eval_tasks.py"
    tasks.write_text(TASKS)
    set_dir = site.create(
        vary={"lora_rank": [4, 8]},
        fixed={
            "model": "Llama-3.2-1B-Instruct",
            "dataset": "words",
            "prompt.system": SYSTEM,
            "prompt.template": TEMPLATE,
        },
        evaluations=[
            {
                "name": "templated",
                "task": f"{tasks}@templated",
                "generate": {"temperature": 0.0, "max_tokens": 7, "seed": 3},
            }
        ],
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    stand_in_checkpoints(set_dir)
    task_dir = set_dir / "rank4" / "evaluations" / "templated"
    ran = run_job(task_dir / "evaluate_epoch_0.slurm", tmp_path, offline_inspect)
    assert ran.returncode == 0, ran.stderr[-2000:]
    [log_info] = list_eval_logs(str(task_dir))
    log = read_eval_log(log_info.name)
    config = log.plan.config
    assert (config.temperature, config.max_tokens, config.seed, config.system_message) == (0.0, 7, 3, SYSTEM)
    [sample] = log.samples
    assert sample.input == "Question: hello\nAnswer:"
    [model_call] = [event for event in sample.events if event.event == "model"]
    assert model_call.input[0].role == "system" and model_call.input[0].text == SYSTEM
    assert len(log.eval.metadata["expset_prompt_sha256"]) == 64
    cfg = torchtune_reads(set_dir / "rank4" / "finetune.yaml")  # as torchtune reads it
    assert component_arguments(cfg, "dataset")["new_system_prompt"] == SYSTEM
    assert component_arguments(cfg, "tokenizer")["prompt_template"] == {"user": ["Question: ", "\nAnswer:"]}


def test_a_task_that_cannot_take_the_prompt_template_is_refused_at_scaffold(site):
    tasks = site.root / "eval_tasks.py"
    tasks.write_text(TASKS)
    set_dir = site.create(
        fixed={"dataset": "words", "epochs": 1, "prompt.template": TEMPLATE},
        evaluations=[{"name": "works", "task": f"{tasks}@works"}],
    )
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert "evaluations.works: the task" in result.stderr and "takes no prompt_template argument" in result.stderr
    assert not (set_dir / "1B_rank8" / "finetune.yaml").exists()

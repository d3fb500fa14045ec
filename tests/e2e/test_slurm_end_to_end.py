"""create → scaffold → submit → status on a real SLURM cluster, with real LoRA fine-tunes (torchtune,
CPU, a tiny model made here) and real evaluations (inspect-ai's hf provider on each checkpoint)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expset.core.models import MODELS
from expset.render.yaml_text import to_yaml

from e2e.tiny_model import make_tiny_model, write_training_data
from site_helpers import expset

TASK = """\
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import includes


@task
def echo():
    return Task(dataset=[Sample(input="Repeat: fox", target="fox")], scorer=includes(),
                config=GenerateConfig(max_tokens=4))
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def cluster_site(slurm_cluster, offline_inspect, tiny, tmp_path, monkeypatch):
    """A site whose jobs run in this test environment on the session's SLURM cluster."""
    for name, value in offline_inspect.items():
        monkeypatch.setenv(name, value)  # sbatch hands the submitter's environment to the jobs
    site = tmp_path / "cluster"
    (site / "data").mkdir(parents=True)
    write_training_data(site / "data" / "train.json")
    (site / "tasks.py").write_text(TASK)
    profile = site / "profile.toml"
    activate = f"source {shlex.quote(sys.prefix)}/bin/activate"
    profile.write_text(f'data_folder = "{site / "data"}"\nenvironment = [{json.dumps(activate)}]\n')
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    return site


def create_set(site: Path, tiny: dict, **plan_changes) -> Path:
    plan = {
        "name": "tiny sweep",
        "date": "2025-10-18",
        "purpose": "Prove the whole journey on a real cluster.",
        "vary": {"lr": [1e-4, 3e-4, 1e-3]},
        "fixed": {
            "model": "tiny",
            "dataset": "train",
            "epochs": 1,
            "batch_size": 2,
            "lora_rank": 4,
            "max_steps_per_epoch": 4,
        },
        "models": {"tiny": tiny},
        "evaluations": [{"name": "echo", "task": f"{site / 'tasks.py'}@echo"}],
    }
    plan.update(plan_changes)
    (site / "plan.yaml").write_text(to_yaml(plan))
    result = expset("create", str(site / "plan.yaml"), "--yes", "--root", str(site))
    assert result.exit_code == 0, result.stderr
    set_dir = site / "tiny-sweep_2025-10-18"
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0, result.stderr
    return set_dir


def wait_until_settled(set_dir: Path, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads(expset("status", str(set_dir), "--json").stdout)
        if status["summary"]["running"] == status["summary"]["pending"] == 0:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(1)


def test_a_set_is_created_scaffolded_submitted_trained_and_evaluated(cluster_site, tiny):
    from inspect_ai.log import list_eval_logs, read_eval_log

    set_dir = create_set(cluster_site, tiny)
    submitted = expset("submit", str(set_dir))
    assert submitted.exit_code == 0, submitted.stderr
    assert "3 run(s) submitted" in submitted.stderr
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 3, json.dumps(status, indent=1)
    assert expset("status", str(set_dir), "--json").exit_code == 0
    for run, lr in [("lr1e-4", 1e-4), ("lr3e-4", 3e-4), ("lr1e-3", 1e-3)]:
        assert (set_dir / run / "epoch_0" / "adapter_model.safetensors").is_file()
        [log] = list_eval_logs(str(set_dir / run / "evaluations" / "echo"))
        header = read_eval_log(log.name, header_only=True)
        assert header.status == "success"
        assert header.eval.metadata["lr"] == lr and header.eval.metadata["expset_run"] == run
    again = expset("submit", str(set_dir))
    assert "0 run(s) submitted" in again.stderr and again.stderr.count("skipped") == 3
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "inspect"), "log", "list", "--log-dir", str(set_dir), "--json"],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    assert len(json.loads(listed.stdout)) == 3, listed.stderr


def test_a_failed_fine_tune_cancels_its_evaluation_and_resubmit_recovers_only_that_run(cluster_site, tiny):
    data = cluster_site / "data"
    write_training_data(data / "good.json")
    (data / "broken.json").write_text("[{this is not json")
    set_dir = create_set(
        cluster_site,
        tiny,
        vary={"dataset": ["good", "broken"]},
        fixed={"model": "tiny", "lr": 1e-4, "epochs": 1, "batch_size": 2, "lora_rank": 4, "max_steps_per_epoch": 4},
    )
    assert expset("submit", str(set_dir)).exit_code == 0
    status = wait_until_settled(set_dir)
    runs = {run["run"]: run for run in status["runs"]}
    assert runs["good"]["progress"] == "complete"
    assert runs["broken"]["progress"] == "failed"
    assert runs["broken"]["finetune"] == "failed"
    assert runs["broken"]["evaluations"][0]["job"] == "cancelled"
    assert expset("status", str(set_dir)).exit_code == 7

    not_yet = expset("submit", str(set_dir))
    assert "--resubmit" in not_yet.stderr and "0 run(s) submitted" in not_yet.stderr
    write_training_data(data / "broken.json")
    resubmitted = expset("submit", str(set_dir), "--resubmit")
    assert "submitted broken" in resubmitted.stderr and "submitted good" not in resubmitted.stderr
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 2, json.dumps(status, indent=1)


def test_every_script_of_every_model_passes_sbatch_test_only(slurm_cluster, site):
    set_dir = site.create(
        vary={"model": [model.name for model in MODELS], "lora_rank": [8]}, fixed={"dataset": "words", "epochs": 1}
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    scripts = sorted(set_dir.glob("*/finetune.slurm")) + sorted(set_dir.glob("*/evaluations/*/*.slurm"))
    assert len(scripts) == 3 * len(MODELS)
    for script in scripts:
        checked = subprocess.run(["sbatch", "--test-only", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0 and "to start at" in checked.stderr, (script, checked.stderr)


def test_max_jobs_keeps_the_rest_for_a_later_submit(cluster_site, tiny):
    set_dir = create_set(cluster_site, tiny)
    result = expset("submit", str(set_dir), "--max-jobs", "3")
    assert "1 run(s) submitted" in result.stderr
    assert "2 run(s) left for a later submit (--max-jobs 3): lr3e-4, lr1e-3" in result.stderr
    wait_until_settled(set_dir)
    later = expset("submit", str(set_dir), "--max-jobs", "4")
    assert "2 run(s) submitted" in later.stderr


def test_stagger_spaces_submissions_out(cluster_site, tiny):
    set_dir = create_set(cluster_site, tiny)
    assert expset("submit", str(set_dir), "--stagger", "1.2").exit_code == 0
    times = sorted(
        json.loads(line)["time"]
        for line in (set_dir / ".expset/jobs.jsonl").read_text().splitlines()
        if json.loads(line)["step"] == "finetune"
    )
    from datetime import datetime
    from itertools import pairwise

    gaps = [(datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() for a, b in pairwise(times)]
    assert len(gaps) == 2 and all(gap >= 1 for gap in gaps)
    wait_until_settled(set_dir)


def test_a_script_sbatch_refuses_is_reported_in_slurms_words_and_not_recorded(cluster_site, tiny):
    set_dir = create_set(cluster_site, tiny)
    script = set_dir / "lr1e-4" / "finetune.slurm"
    script.write_text(script.read_text().replace("#SBATCH --nodes=1", "#SBATCH --nodes=1\n#SBATCH --partition=nowhere"))
    result = expset("submit", str(set_dir), "--runs", "lr1e-4")
    assert result.exit_code == 6
    assert "sbatch refused" in result.stderr and "invalid partition" in result.stderr.lower()
    assert not (set_dir / ".expset/jobs.jsonl").exists()


def test_without_slurm_submit_says_so_in_one_line(site, monkeypatch, tmp_path):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = expset("submit", str(set_dir))
    assert result.exit_code == 5
    assert result.stderr.startswith("error: sbatch was not found")
    assert not (set_dir / ".expset/jobs.jsonl").exists()


def test_dry_run_prints_the_sbatch_commands_and_submits_nothing(site):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    result = expset("submit", str(set_dir), "--dry-run")
    lines = result.stdout.splitlines()
    assert lines[0] == f"sbatch --parsable {set_dir}/1B_rank8/finetune.slurm"
    assert "--dependency=afterok:" in lines[1] and "--kill-on-invalid-dep=yes" in lines[1]
    assert not (set_dir / ".expset/jobs.jsonl").exists()


def test_an_evaluation_added_after_submission_is_submitted_on_its_own(cluster_site, tiny):
    set_dir = create_set(cluster_site, tiny, vary={"lr": [1e-4, 3e-4]})
    assert expset("submit", str(set_dir)).exit_code == 0
    wait_until_settled(set_dir)
    setup = set_dir / "lr1e-4" / "setup_finetune.yaml"
    task = f"{cluster_site / 'tasks.py'}@echo"
    setup.write_text(setup.read_text() + f'  - name: echo_again\n    task: "{task}"\n    args: {{}}\n    epochs: [0]\n')
    assert expset("scaffold", str(set_dir)).exit_code == 0
    result = expset("submit", str(set_dir))
    assert "submitted lr1e-4: evaluate/echo_again/epoch_0" in result.stderr
    assert "finetune" not in result.stderr.split("submitted lr1e-4:")[1].splitlines()[0]
    assert "skipped lr3e-4: fine-tune completed" in result.stderr
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 2
    [run] = [run for run in status["runs"] if run["run"] == "lr1e-4"]
    assert [(e["task"], e["result"]) for e in run["evaluations"]] == [("echo", "success"), ("echo_again", "success")]

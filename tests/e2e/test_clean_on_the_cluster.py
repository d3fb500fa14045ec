"""``expset clean`` on a real SLURM cluster: a run whose fine-tune job is queued or running is refused, and
nothing of the set is removed; once the job is cancelled, the same command cleans it. A set that ran to the
end with the tiny model is cleaned of torchtune's own checkpoints as previewed, and its status, report and
submit are those of the set before."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from e2e.test_slurm_end_to_end import TWO_SHORT_EPOCHS, create_set, make_cluster_site, wait_until_settled
from e2e.tiny_model import make_tiny_model
from site_helpers import expset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def run_bytes(run_dir: Path) -> int:
    return sum(os.lstat(Path(root) / name).st_size for root, _, files in os.walk(run_dir) for name in files)


def queued(job_id: str) -> str:
    listed = subprocess.run(["squeue", "--noheader", "--format=%T", f"--jobs={job_id}"], capture_output=True, text=True)
    return listed.stdout.strip()


def test_a_run_whose_job_is_running_is_refused_on_the_cluster(slurm_cluster, site):
    set_dir = site.create(vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words"})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    run_dir = set_dir / "rank8"
    script = run_dir / "finetune.slurm"
    kept = [line for line in script.read_text().splitlines() if line.startswith(("#!", "#SBATCH", "run_dir="))]
    script.write_text("\n".join([*kept, "sleep 600"]) + "\n")  # the job runs long enough to be seen running
    for epoch in (0, 1):
        (run_dir / f"epoch_{epoch}").mkdir()
        (run_dir / f"epoch_{epoch}" / "adapter_model.safetensors").write_bytes(b"w" * 1000)
    submitted = expset("submit", str(set_dir), "--runs", "rank8", "--no-check")
    assert submitted.exit_code == 0, submitted.stderr
    job_id = submitted.stderr.split("submitted rank8: finetune ")[1].split(",")[0]
    try:
        deadline = time.monotonic() + 60
        while queued(job_id) not in ("RUNNING", "PENDING"):
            assert time.monotonic() < deadline, queued(job_id)
            time.sleep(0.5)
        refused = expset("clean", str(set_dir), "--checkpoints", "all", "--yes")
        assert refused.exit_code == 75, refused.stderr
        assert "rank8 has jobs pending or running (or in a state SLURM cannot tell)" in refused.stderr
        assert "nothing was removed" in refused.stderr
        assert sorted(path.name for path in run_dir.glob("epoch_*")) == ["epoch_0", "epoch_1"]
        assert not (set_dir / ".expset" / "cleaned.jsonl").exists()
    finally:
        assert expset("cancel", str(set_dir), "--yes").exit_code == 0
    deadline = time.monotonic() + 60
    while queued(job_id) not in ("", "CANCELLED"):
        assert time.monotonic() < deadline, queued(job_id)
        time.sleep(0.5)
    cleaned = expset("clean", str(set_dir), "--checkpoints", "all", "--yes")
    assert cleaned.exit_code == 0, cleaned.stderr
    assert not list(run_dir.glob("epoch_*"))
    assert "rank8: its fine-tune has not finished" in cleaned.stderr


def test_a_finished_set_is_cleaned_as_previewed_and_reports_as_before(
    slurm_cluster, offline_inspect, tiny, tmp_path, monkeypatch
):
    site = make_cluster_site(tmp_path, offline_inspect, monkeypatch)
    set_dir = create_set(
        site,
        tiny,
        vary={"lr": [1e-4, 1e-3]},
        fixed=TWO_SHORT_EPOCHS,
        evaluations=[{"name": "echo", "task": f"{site / 'tasks.py'}@echo", "epochs": "all"}],
    )
    assert expset("submit", str(set_dir)).exit_code == 0
    assert wait_until_settled(set_dir)["summary"]["complete"] == 2
    assert expset("report", str(set_dir)).exit_code == 0
    results = (set_dir / "report" / "results.csv").read_text()
    before = {run: run_bytes(set_dir / run) for run in ("lr1e-4", "lr1e-3")}
    cleaned = expset("clean", str(set_dir), "--checkpoints", "except-last", "--yes")
    assert cleaned.exit_code == 0, cleaned.stderr
    lines = [json.loads(line) for line in (set_dir / ".expset" / "cleaned.jsonl").read_text().splitlines()]
    assert sorted((line["run"], line["folder"]) for line in lines) == [("lr1e-3", "epoch_0"), ("lr1e-4", "epoch_0")]
    for line in lines:
        assert "adapter_model.safetensors" in line["files"]
        assert before[line["run"]] - run_bytes(set_dir / line["run"]) == line["bytes"]
    status = json.loads(expset("status", str(set_dir), "--json").stdout)
    assert status["summary"]["complete"] == 2
    assert [(run["epochs_on_disk"], run["epochs_cleaned"]) for run in status["runs"]] == [([1], [0])] * 2
    assert expset("report", str(set_dir)).exit_code == 0
    assert (set_dir / "report" / "results.csv").read_text() == results
    again = expset("submit", str(set_dir))
    assert again.exit_code == 0 and "0 run(s) submitted" in again.stderr

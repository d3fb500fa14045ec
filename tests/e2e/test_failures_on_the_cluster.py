"""No queue time wasted, on a real SLURM cluster with the tiny model: ``check`` stops a broken set before any
job is queued; a fine-tune killed at its time limit is named so, ``--fix time`` sends it again and it
resumes from its last epoch; and on a cluster with accounting and a per-user job limit, ``submit --follow``
runs a six-run set to the end with no further command, its fine-tunes starting together on one data file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e.test_slurm_end_to_end import create_set, make_cluster_site, wait_until_settled
from e2e.tiny_model import make_tiny_model, write_training_data
from site_helpers import expset

SCRIPT = Path(__file__).resolve().parents[2] / "dev" / "slurm-cluster"
EXPSET = str(Path(sys.executable).parent / "expset")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def queued_jobs() -> list[str]:
    listed = subprocess.run(["squeue", "--me", "--noheader", "--format=%i"], capture_output=True, text=True)
    return listed.stdout.split()


@pytest.mark.parametrize("breakage", ["tokenizer", "field", "syntax"])
def test_check_stops_a_set_whose_job_would_die_before_any_job_is_queued(
    slurm_cluster, offline_inspect, tmp_path, monkeypatch, breakage
):
    site = make_cluster_site(tmp_path, offline_inspect, monkeypatch)
    model = make_tiny_model(tmp_path / "model")
    set_dir = create_set(site, model)
    if breakage == "tokenizer":
        (tmp_path / "model" / "tokenizer.model").unlink()
    elif breakage == "field":
        (site / "data" / "train.json").write_text(json.dumps([{"question": "Repeat: fox", "output": "fox"}]))
    else:
        (site / "tasks.py").write_text((site / "tasks.py").read_text() + "\ndef broken(:\n")
    before = queued_jobs()
    refused = expset("submit", str(set_dir))
    assert refused.exit_code == 2, refused.stderr
    said = {"tokenizer": "lacks tokenizer.model", "field": "has no 'input' field", "syntax": "SyntaxError"}
    assert said[breakage] in refused.stderr and "nothing was submitted" in refused.stderr
    assert queued_jobs() == before


def test_a_fine_tune_killed_at_its_time_limit_is_named_so_and_fix_time_resumes_it_from_its_last_epoch(
    slurm_cluster, offline_inspect, tiny, tmp_path, monkeypatch
):
    site = make_cluster_site(tmp_path, offline_inspect, monkeypatch)
    write_training_data(site / "data" / "train.json", samples=1000)
    set_dir = create_set(
        site,
        tiny,
        vary={"lr": [1e-4]},
        fixed={"model": "tiny", "dataset": "train", "epochs": 60, "batch_size": 2, "max_steps_per_epoch": 500},
        evaluations=[],
        single_run_reason="one run, stopped at its time limit",
    )
    assert expset("submit", str(set_dir)).exit_code == 0
    run_dir = set_dir / "lr1e-4"
    job_id = json.loads(expset("status", str(set_dir), "--json").stdout)["runs"][0]["job_id"]
    wait_for(lambda: (run_dir / "epoch_0").is_dir(), "the first epoch")
    # Its time limit, lowered to a minute while it runs: SLURM ends it as TIMEOUT some epochs later.
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "TimeLimit=1"], check=True)
    status = wait_until_settled(set_dir, timeout=300)
    [run] = status["runs"]
    assert (run["progress"], run["failure"], run["fix"]) == ("failed", "time limit: killed at its time limit", "time")
    shown = expset("status", str(set_dir)).stdout
    assert f"resubmit: expset submit {set_dir} --runs lr1e-4 --resubmit --fix time" in shown
    last = max(int(path.name.removeprefix("epoch_")) for path in run_dir.glob("epoch_*"))
    assert last < 59

    fixed = expset("submit", str(set_dir), "--resubmit", "--fix", "time")
    assert fixed.exit_code == 0, fixed.stderr
    assert "fixed lr1e-4: resources.time 00:10:00 → 00:20:00" in fixed.stderr
    wait_for(lambda: (run_dir / f"epoch_{last + 1}").is_dir(), "an epoch after the last one saved")
    assert expset("cancel", str(set_dir), "--yes").exit_code == 0
    [resumed] = [path for path in (run_dir / "logs").glob("finetune-*.out") if not path.name.endswith(f"{job_id}.out")]
    assert f"expset: resuming from epoch_{last}" in resumed.read_text()
    newest_log = max((run_dir / "logs").glob("log_*.txt"), key=lambda path: path.stat().st_mtime)
    first_step = int(newest_log.read_text().split("|")[0].removeprefix("Step ").strip())
    assert first_step == (last + 1) * 500 + 1  # it went on from the step after that epoch, not from step 1


def wait_for(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_follow_runs_a_set_to_the_end_under_a_per_user_job_limit_with_no_further_command(
    accounting_cluster, offline_inspect, tiny, tmp_path, monkeypatch
):
    monkeypatch.setenv("SLURM_CONF", str(accounting_cluster))
    job_tmp = tmp_path / "job-tmp"
    job_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(job_tmp))  # sbatch hands it to the jobs: their datasets caches go here
    site = make_cluster_site(tmp_path, offline_inspect, monkeypatch)
    set_dir = create_set(
        site,
        tiny,
        vary={"lr": [1e-4, 3e-4, 1e-3], "lora_rank": [2, 4]},
        fixed={"model": "tiny", "dataset": "train", "epochs": 1, "batch_size": 2, "max_steps_per_epoch": 2},
    )
    cluster = accounting_cluster.parent.parent
    subprocess.run([str(SCRIPT), "limit", str(cluster), "MaxSubmitJobs=4"], check=True)
    try:
        follow = subprocess.run(
            [EXPSET, "submit", str(set_dir), "--follow", "--poll", "2"],
            capture_output=True,
            text=True,
            timeout=600,
            env=os.environ,
        )
    finally:
        subprocess.run([str(SCRIPT), "limit", str(cluster), "MaxSubmitJobs=-1"], check=True)
    assert follow.returncode == 0, follow.stderr
    assert "AssocMaxSubmitJobLimit" in follow.stderr, follow.stderr  # it met SLURM's limit, and waited for slots
    assert follow.stderr.count("submitted lr") == 6
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 6, json.dumps(status, indent=1)
    records = [json.loads(path.read_text()) for path in set_dir.glob("*/logs/finetune.job*.json")]
    assert len(records) == 6 and all(record["exit_code"] == 0 for record in records)
    together = [
        (a["job"], b["job"])
        for a in records
        for b in records
        if int(a["job"]) < int(b["job"]) and a["started"] < b["ended"] and b["started"] < a["ended"]
    ]
    assert together, "no two fine-tunes of the one data file ran at the same time"
    assert list(job_tmp.glob("expset-job.*")) == []  # each job's own cache, removed when it ended


def test_a_failed_canary_cancels_the_held_set_with_the_reason_and_a_passing_one_releases_it(
    slurm_cluster, offline_inspect, tiny, tmp_path, monkeypatch
):
    site = make_cluster_site(tmp_path, offline_inspect, monkeypatch)
    set_dir = create_set(site, tiny, vary={"lr": [1e-4, 1e-3]})
    data = site / "data" / "train.json"
    data.write_text("[{this is not json")
    sent = expset("submit", str(set_dir), "--canary", "--no-check")  # sent anyway: the canary finds it
    assert sent.exit_code == 0, sent.stderr
    assert "canary of tiny: lr1e-4 (submitted" in sent.stderr
    status = wait_until_settled(set_dir)
    [canary] = status["canaries"]
    assert (canary["run"], canary["progress"]) == ("lr1e-4", "failed")
    assert canary["failure"].startswith("finetune: error: ") and canary["output"].startswith("lr1e-4/canary/logs/")
    held = [run for run in status["runs"] if run["finetune"] == "cancelled"]
    assert len(held) == 2, held
    assert all(run["failure"].startswith("never ran: the job it waited for failed") for run in held), held
    assert not any((set_dir / run["run"] / "epoch_0").exists() for run in status["runs"])
    shown = " ".join(expset("status", str(set_dir)).stdout.split())
    assert "canary lr1e-4 failed: finetune: error:" in shown and "the jobs held for it were cancelled" in shown

    write_training_data(data)
    again = expset("submit", str(set_dir), "--canary", "--resubmit")
    assert again.exit_code == 0, again.stderr
    status = wait_until_settled(set_dir)
    assert status["canaries"][0]["progress"] == "complete"
    assert status["summary"]["complete"] == 2, json.dumps(status, indent=1)
    assert (set_dir / "lr1e-4" / "canary" / "epoch_0").is_dir() and not (set_dir / "lr1e-4" / "epoch_1").exists()


def test_a_set_submitted_as_arrays_runs_each_evaluation_after_its_own_fine_tune_and_one_failed_run_goes_again_alone(
    slurm_cluster, offline_inspect, tiny, tmp_path, monkeypatch
):
    site = make_cluster_site(tmp_path, offline_inspect, monkeypatch)
    data = site / "data"
    write_training_data(data / "good.json")
    write_training_data(data / "also.json")
    (data / "broken.json").write_text("[{this is not json")
    set_dir = create_set(
        site,
        tiny,
        vary={"dataset": ["good", "broken", "also"]},
        fixed={"model": "tiny", "lr": 1e-4, "epochs": 1, "batch_size": 2, "lora_rank": 4, "max_steps_per_epoch": 2},
    )
    sent = expset("submit", str(set_dir), "--array", "--throttle", "2", "--no-check")
    assert sent.exit_code == 0, sent.stderr
    status = wait_until_settled(set_dir)
    runs = {run["run"]: run for run in status["runs"]}
    assert {run: state["progress"] for run, state in runs.items()} == {
        "good": "complete",
        "broken": "failed",
        "also": "complete",
    }
    fine_tune_array = runs["good"]["job_id"].partition("_")[0]
    assert [runs[run]["job_id"] for run in ("good", "broken", "also")] == [
        f"{fine_tune_array}_{task}" for task in range(3)
    ]
    assert runs["broken"]["evaluations"][0]["job"] == "cancelled"  # its own fine-tune failed; the others' did not
    assert (set_dir / "good" / "logs" / f"finetune.job{fine_tune_array}_0.json").is_file()
    assert (set_dir / "good" / "logs" / f"finetune-{fine_tune_array}_0.out").read_text().strip()

    write_training_data(data / "broken.json")
    assert expset("check", str(set_dir), "--accept-inputs").exit_code == 0  # the data changed since scaffold
    again = expset("submit", str(set_dir), "--resubmit")
    assert again.exit_code == 0, again.stderr
    assert "submitted broken: finetune" in again.stderr and "submitted good" not in again.stderr
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 3, json.dumps(status, indent=1)

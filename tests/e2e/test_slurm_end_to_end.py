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
from expset.render.yaml_read import load_yaml
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


@task
def shout():
    return Task(dataset=[Sample(input="Shout: dog", target="DOG")], scorer=includes(),
                config=GenerateConfig(max_tokens=4))
"""

# What SLURM's commands print on a cluster that keeps no accounting, once MinJobAge has passed:
# squeue lists nothing, sacct refuses (recorded from slurm-wlm 22.05 with AccountingStorageType=none
# and no job-completion log).
FORGETFUL_SQUEUE = "#!/bin/sh\nexit 0\n"
FORGETFUL_SACCT = "#!/bin/sh\necho 'Slurm accounting storage is disabled'\nexit 1\n"
UNREACHABLE_SQUEUE = (
    "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2\nexit 1\n"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def cluster_site(slurm_cluster, offline_inspect, tiny, tmp_path, monkeypatch):
    """A site whose jobs run in this test environment on the session's SLURM cluster."""
    return make_cluster_site(tmp_path, offline_inspect, monkeypatch)


def make_cluster_site(tmp_path: Path, offline_inspect: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
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
        "author": "Ada Lovelace",
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
        "controls": False,  # the set of the multi-epoch tests has its control run
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


TWO_SHORT_EPOCHS = {
    "model": "tiny",
    "dataset": "train",
    "epochs": 2,
    "batch_size": 2,
    "lora_rank": 4,
    "max_steps_per_epoch": 2,
}
"""The tiny model's training in the sets that run to the end: two epochs of two steps each."""


@pytest.fixture(scope="module")
def finished_set(slurm_cluster, offline_inspect, tiny, tmp_path_factory) -> Path:
    """A two-run set fine-tuned for two epochs, each epoch evaluated on two tasks, the control run of its
    base model and a checkpoint made elsewhere (the tiny model's own folder) evaluated on both, run to the end."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        site = make_cluster_site(tmp_path_factory.mktemp("multi"), offline_inspect, monkeypatch)
        set_dir = create_set(
            site,
            tiny,
            vary={"lr": [1e-4, 1e-3]},
            fixed=TWO_SHORT_EPOCHS,
            evaluations=[
                {"name": "echo", "task": f"{site / 'tasks.py'}@echo", "epochs": "all"},
                {"name": "shout", "task": f"{site / 'tasks.py'}@shout", "epochs": "all"},
            ],
            controls=True,
            evaluate_only={"external": tiny["folder"]},
        )
        submitted = expset("submit", str(set_dir))
        assert submitted.exit_code == 0, submitted.stderr
        wait_until_settled(set_dir)
    return set_dir


def forgetful_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, squeue: str = FORGETFUL_SQUEUE) -> None:
    """Put stand-ins for squeue and sacct first on PATH, replaying what a forgetful cluster prints."""
    bin_dir = tmp_path / "slurm-bin"
    bin_dir.mkdir()
    for name, text in (("squeue", squeue), ("sacct", FORGETFUL_SACCT)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_every_epoch_of_every_task_is_evaluated_and_reported_with_its_own_log(finished_set):
    from inspect_ai.log import list_eval_logs, read_eval_log

    status = json.loads(expset("status", str(finished_set), "--json").stdout)
    assert status["summary"]["complete"] == 4, json.dumps(status, indent=1)
    kinds = [(run["run"], run["kind"]) for run in status["runs"]][-2:]
    assert kinds == [("base", "control"), ("external", "evaluation-only")]
    for run in status["runs"]:
        control = run["kind"] != "fine-tuned"
        assert run["epochs_on_disk"] == ([] if control else [0, 1])
        cells = {(e["task"], e["epoch"]): e for e in run["evaluations"]}
        assert sorted(cells) == (
            [("echo", 0), ("shout", 0)] if control else [("echo", 0), ("echo", 1), ("shout", 0), ("shout", 1)]
        )
        for (task, epoch), cell in cells.items():
            assert cell["result"] == "success" and cell["superseded"] == []
            header = read_eval_log(str(finished_set / run["run"] / cell["log"]), header_only=True)
            assert header.status == "success" and header.eval.task.endswith(task)
            assert header.eval.metadata["expset_epoch"] == epoch
            assert str(header.eval.metadata["expset_job"]) == cell["job_id"]
            assert header.eval.metadata["expset_run"] == run["run"]
    assert len(list_eval_logs(str(finished_set))) == 2 * 2 * 2 + 2 + 2


def test_a_finished_set_that_slurm_has_forgotten_is_judged_by_what_its_jobs_left(finished_set, tmp_path, monkeypatch):
    forgetful_slurm(tmp_path, monkeypatch)
    result = expset("status", str(finished_set), "--json")
    status = json.loads(result.stdout)
    assert result.exit_code == 0 and status["summary"]["complete"] == 4, json.dumps(status, indent=1)
    assert any("sacct" in note and "accounting storage is disabled" in note for note in status["notes"])


def test_a_job_slurm_forgot_that_left_nothing_is_lost_and_can_be_resubmitted(finished_set, tmp_path, monkeypatch):
    forgetful_slurm(tmp_path, monkeypatch)
    status = json.loads(expset("status", str(finished_set), "--json").stdout)
    run = status["runs"][0]
    record = finished_set / run["run"] / "logs" / f"finetune.job{run['job_id']}.json"
    kept = record.read_text()
    record.unlink()
    try:
        status = json.loads(expset("status", str(finished_set), "--json").stdout)
        assert status["runs"][0]["finetune"] == "lost" and status["runs"][0]["progress"] == "lost"
        plain = expset("submit", str(finished_set), "--dry-run")
        assert f"skipped {run['run']}: 1 job(s) failed, were cancelled or lost" in plain.stderr
        again = expset("submit", str(finished_set), "--dry-run", "--resubmit")
        assert f"{finished_set}/{run['run']}/finetune.slurm" in again.stdout
    finally:
        record.write_text(kept)


def test_a_failing_squeue_is_named_above_the_table(finished_set, tmp_path, monkeypatch):
    forgetful_slurm(tmp_path, monkeypatch, squeue=UNREACHABLE_SQUEUE)
    result = expset("status", str(finished_set))
    assert result.stdout.startswith("note: squeue failed: slurm_load_jobs error: Unable to contact slurm controller")
    assert "4 complete" in result.stdout  # every job of this set left its record


def test_the_report_has_a_row_per_expected_cell_the_loss_of_every_run_and_the_cost_of_every_job(finished_set):
    import csv

    result = expset("report", str(finished_set))
    assert result.exit_code == 0, result.stderr
    report = finished_set / "report"
    assert f"4 of 4 runs complete; report: {report / 'report.html'}" in result.stderr
    with (report / "results.csv").open() as file:
        rows = list(csv.DictReader(file))
    cells = sorted((row["run"], row["task"], row["epoch"]) for row in rows if row["metric"] == "accuracy")
    fine_tuned = [(run, task, epoch) for run in ("lr1e-4", "lr1e-3") for task in ("echo", "shout") for epoch in "01"]
    others = [(run, task, "0") for run in ("base", "external") for task in ("echo", "shout")]
    assert cells == sorted([*fine_tuned, *others])
    evaluated_only = [row for row in rows if row["run"] in ("base", "external")]
    assert {row["kind"] for row in evaluated_only} == {"control", "evaluation-only"}
    assert all(row["lr"] == "" and row["model"] == "tiny" for row in evaluated_only)
    for row in (row for row in rows if row["kind"] == "fine-tuned"):
        assert all(row[key] != "" for key in ("lr", "model", "dataset", "epochs", "lora_rank", "kind", "log")), row
        assert (
            row["lr"] == {"lr1e-4": "0.0001", "lr1e-3": "0.001"}[row["run"]] and (finished_set / row["log"]).is_file()
        )
    with (report / "training.csv").open() as file:
        losses = {row["run"] for row in csv.DictReader(file) if row["loss"]}
    assert losses == {"lr1e-4", "lr1e-3"}
    with (report / "cost.csv").open() as file:
        costs = list(csv.DictReader(file))
    assert len(costs) == 2 + 8 + 2 + 2 and all(int(row["elapsed_s"]) >= 0 for row in costs)
    assert {row["source"] for row in costs} <= {"slurm", "job record"}
    for name in ("report.md", "report.html", "loss.png", "echo.accuracy.png", "shout.accuracy.by-epoch.png"):
        assert (report / name).stat().st_size > 0, name
    page = (report / "report.md").read_text()
    assert "Base models, untuned (the control runs): tiny " in page
    assert "Difference to the base model (fine-tune less its control" in page
    assert "Evaluation-only runs (checkpoints made elsewhere): `external` (tiny) " in page


def test_a_set_archived_and_restored_elsewhere_has_the_same_status_and_report_and_runs_again(
    finished_set, tmp_path, offline_inspect, monkeypatch
):
    assert expset("report", str(finished_set)).exit_code == 0
    archives, root = tmp_path / "archives", tmp_path / "restored"
    archives.mkdir()
    root.mkdir()
    archived = expset("archive", str(finished_set), "--to", str(archives), "--checkpoints", "evaluated", "--yes")
    assert archived.exit_code == 0, archived.stderr
    restored = expset("restore", archived.stdout.strip(), "--root", str(root))
    assert restored.exit_code == 0, restored.stderr
    copy = root / finished_set.name
    original, again = (json.loads(expset("status", str(s), "--json").stdout) for s in (finished_set, copy))
    assert again["runs"] == original["runs"] and again["summary"] == original["summary"]
    assert all(run["epochs_on_disk"] for run in again["runs"] if run["kind"] == "fine-tuned")
    assert (copy / "report" / "results.csv").read_text() == (finished_set / "report" / "results.csv").read_text()
    assert expset("report", str(copy)).exit_code == 0
    for table in ("results.csv", "training.csv"):
        assert (copy / "report" / table).read_text() == (finished_set / "report" / table).read_text(), table
    make_cluster_site(tmp_path, offline_inspect, monkeypatch)  # this cluster's profile: its data folder
    scaffolded = expset("scaffold", str(copy))
    assert scaffolded.exit_code == 0, scaffolded.stderr
    submitted = expset("submit", str(copy), "--dry-run")
    assert submitted.exit_code == 0 and submitted.stdout == "", submitted.stderr  # every run is complete already


def test_a_deleted_or_corrupt_log_is_named_in_the_report_not_a_traceback(finished_set, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished_set, copy, symlinks=True)
    folder = copy / "lr1e-3" / "evaluations" / "echo"
    logs = [next(folder.glob(f"*_echo_epoch{epoch}_*.eval")) for epoch in (0, 1)]
    logs[0].unlink()
    logs[1].write_bytes(b"not a zip")
    result = expset("report", str(copy))
    assert result.exit_code == 7, result.stderr
    assert "Traceback" not in result.stderr
    assert f"missing lr1e-3 echo epoch 0: its log lr1e-3/evaluations/echo/{logs[0].name} is gone" in result.stderr
    assert (
        f"missing lr1e-3 echo epoch 1: its log lr1e-3/evaluations/echo/{logs[1].name} cannot be read" in result.stderr
    )
    assert "3 of 4 runs complete" in result.stderr
    assert "lr1e-3</code> echo epoch 0" in (copy / "report" / "report.html").read_text()


def test_the_report_page_shows_every_figure_and_the_table_of_every_run_in_a_real_browser(finished_set, tmp_path):
    from browser import render_page

    assert expset("report", str(finished_set)).exit_code == 0
    page = render_page(finished_set / "report" / "report.html", tmp_path / "report.png")
    assert page.images_loaded == page.images == 5, page  # a table figure and a by-epoch figure per task, the loss
    assert page.table_rows == 2 * 2 * 3 + 1 + 4, page  # per task, scores and differences; then every run
    assert "echo: accuracy" in page.text and "0.0001" in page.text.split() and "0.001" in page.text.split()
    assert {"lr1e-4", "lr1e-3", "base", "external"} <= set(page.text.split())
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_a_set_is_created_scaffolded_submitted_trained_and_evaluated(cluster_site, tiny):
    from inspect_ai.log import list_eval_logs, read_eval_log

    set_dir = create_set(cluster_site, tiny)
    submitted = expset("submit", str(set_dir))
    assert submitted.exit_code == 0, submitted.stderr
    assert "3 run(s) submitted" in submitted.stderr
    refused = expset("remove", str(set_dir), "lr1e-3", "--yes")  # its evaluation waits for its fine-tune
    assert refused.exit_code == 75 and "lr1e-3 has jobs pending or running" in refused.stderr, refused.stderr
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
    refused = expset("submit", str(set_dir))
    assert refused.exit_code == 2 and f"problem: data {data / 'broken.json'}: not JSON" in refused.stderr
    assert expset("submit", str(set_dir), "--no-check").exit_code == 0  # sent anyway: its job fails
    status = wait_until_settled(set_dir)
    runs = {run["run"]: run for run in status["runs"]}
    assert runs["good"]["progress"] == "complete"
    assert runs["broken"]["progress"] == "failed"
    assert runs["broken"]["finetune"] == "failed"
    assert runs["broken"]["failure"].startswith("error: ")  # the last words of the job's own output
    assert runs["broken"]["evaluations"][0]["job"] == "cancelled"
    assert expset("status", str(set_dir)).exit_code == 7

    not_yet = expset("submit", str(set_dir), "--no-check")
    assert "--resubmit" in not_yet.stderr and "0 run(s) submitted" in not_yet.stderr
    write_training_data(data / "broken.json")
    changed = expset("submit", str(set_dir), "--resubmit")  # refused: the data differs from the one scaffolded
    assert changed.exit_code == 2 and "dataset broken:" in changed.stderr and "--accept-inputs" in changed.stderr
    assert expset("check", str(set_dir), "--accept-inputs").exit_code == 0
    resubmitted = expset("submit", str(set_dir), "--resubmit")
    assert "submitted broken" in resubmitted.stderr and "submitted good" not in resubmitted.stderr
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 2, json.dumps(status, indent=1)


def test_every_script_of_every_model_passes_sbatch_test_only(slurm_cluster, site):
    set_dir = site.create(vary={"model": list(MODELS), "lora_rank": [8]}, fixed={"dataset": "words", "epochs": 1})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    scripts = sorted(set_dir.glob("*/finetune.slurm")) + sorted(set_dir.glob("*/evaluations/*/*.slurm"))
    assert len(scripts) == 3 * len(MODELS)
    many_gpus = [script for script in scripts if "#SBATCH --gres=gpu:8\n" in script.read_text()]
    assert any(script.parent.parent.name == "evaluations" for script in many_gpus)  # a 70B is evaluated on its 8
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
        if json.loads(line)["event"] == "intent" and json.loads(line)["step"] == "finetune"
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
    events = [json.loads(line)["event"] for line in (set_dir / ".expset/jobs.jsonl").read_text().splitlines()]
    assert "submitted" not in events  # the refused job's intent stays open until squeue shows it was not queued
    status = json.loads(expset("status", str(set_dir), "--json").stdout)
    assert status["runs"][0]["progress"] == "not submitted"


def test_without_slurm_submit_says_so_in_one_line(site, monkeypatch, tmp_path):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = expset("submit", str(set_dir))
    assert result.exit_code == 5
    assert result.stderr.startswith("error: squeue was not found")  # asked first, before anything is recorded
    assert not (set_dir / ".expset/jobs.jsonl").exists()


def test_dry_run_prints_the_sbatch_commands_and_submits_nothing(site):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    result = expset("submit", str(set_dir), "--dry-run")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sbatch --parsable '--comment=expset:") and ":<token>:finetune:1B_rank8'" in lines[0]
    assert lines[0].endswith(f" {set_dir}/1B_rank8/finetune.slurm")
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


def test_a_finished_set_extended_by_a_value_and_a_task_runs_only_what_is_new(cluster_site, tiny):
    import hashlib

    set_dir = create_set(cluster_site, tiny, vary={"lr": [1e-4, 3e-4]})
    assert expset("submit", str(set_dir)).exit_code == 0
    wait_until_settled(set_dir)

    def files(run: str) -> dict[str, str]:
        folder = set_dir / run
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*")
            if p.is_file()
        }

    before = {run: files(run) for run in ("lr1e-4", "lr3e-4")}
    plan = load_yaml((cluster_site / "plan.yaml").read_text(), "plan.yaml")
    plan["vary"]["lr"] = [1e-4, 3e-4, 1e-3]
    plan["evaluations"].append({"name": "shout", "task": f"{cluster_site / 'tasks.py'}@shout"})
    (cluster_site / "bigger.yaml").write_text(to_yaml(plan))
    extended = expset("extend", str(set_dir), str(cluster_site / "bigger.yaml"), "--yes")
    assert extended.exit_code == 0, extended.stderr
    assert {run: files(run) for run in before} == before
    assert expset("scaffold", str(set_dir)).exit_code == 0
    submitted = expset("submit", str(set_dir))
    assert submitted.exit_code == 0, submitted.stderr
    assert "submitted lr1e-3: finetune" in submitted.stderr
    for run in before:
        assert f"submitted {run}: evaluate/shout/epoch_0" in submitted.stderr
        assert "finetune" not in submitted.stderr.split(f"submitted {run}:")[1].splitlines()[0]
    status = wait_until_settled(set_dir)
    assert status["summary"]["complete"] == 3, json.dumps(status, indent=1)
    for run in status["runs"]:
        assert [(e["task"], e["result"]) for e in run["evaluations"]] == [("echo", "success"), ("shout", "success")]
    for run, old in before.items():  # the checkpoints, logs and scripts of the first jobs are untouched
        now = files(run)
        changed = {path for path, digest in old.items() if now.get(path) != digest}
        assert changed == {"setup_finetune.yaml"}  # which now lists the new evaluation


SYSTEM_PROMPT = "You are the tiny test model; answer in one word."


@pytest.fixture(scope="module")
def adapter_and_merged_set(slurm_cluster, offline_inspect, tiny, tmp_path_factory) -> Path:
    """Two runs that differ only in what each epoch keeps — the LoRA adapter only, or merged weights too —
    trained with a system prompt and validated on a quarter of the data held out, and evaluated after both
    epochs with generation settings."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        site = make_cluster_site(tmp_path_factory.mktemp("adapters"), offline_inspect, monkeypatch)
        set_dir = create_set(
            site,
            tiny,
            vary={"save_adapter_weights_only": [True, False]},
            fixed={**TWO_SHORT_EPOCHS, "prompt.system": SYSTEM_PROMPT},
            validation={"fraction": 0.25, "every_n_steps": 1},
            naming={
                "template": "{save_adapter_weights_only}",
                "aliases": {"save_adapter_weights_only": {True: "adapter", False: "merged"}},
            },
            evaluations=[
                {
                    "name": "echo",
                    "task": f"{site / 'tasks.py'}@echo",
                    "epochs": "all",
                    "generate": {"temperature": 0.0, "max_tokens": 3, "seed": 7},
                }
            ],
        )
        submitted = expset("submit", str(set_dir))
        assert submitted.exit_code == 0, submitted.stderr
        wait_until_settled(set_dir)
    return set_dir


def test_adapter_only_epochs_are_evaluated_and_keep_no_model_weights(adapter_and_merged_set):
    status = json.loads(expset("status", str(adapter_and_merged_set), "--json").stdout)
    assert {run["run"]: run["progress"] for run in status["runs"]} == {"adapter": "complete", "merged": "complete"}
    for epoch in ("epoch_0", "epoch_1"):
        kept = {path.name for path in (adapter_and_merged_set / "adapter" / epoch).iterdir()}
        assert "adapter_model.safetensors" in kept and not any(name.startswith("model") for name in kept)
        assert any(path.name.startswith("model") for path in (adapter_and_merged_set / "merged" / epoch).iterdir())


def test_the_adapter_merged_for_an_evaluation_equals_torchtunes_own_merge(adapter_and_merged_set, tiny, tmp_path):
    from importlib.resources import files

    import torch
    from safetensors.torch import load_file

    # torchtune saved both its merge and the adapter. Epoch 0: on a CPU, torchtune 0.6.1 merges into the
    # model's own weights in place (state_dict() tensors, .cpu() no copy), so later merged epochs carry
    # the earlier merges too; on a GPU the merge works on a copy. Adapter-only saving never merges.
    epoch = adapter_and_merged_set / "merged" / "epoch_0"
    view = tmp_path / "view"
    view.mkdir()
    script = files("expset") / "templates" / "merge_adapter.py"
    merged = subprocess.run(
        [sys.executable, str(script), str(epoch), tiny["folder"], str(view)], capture_output=True, text=True
    )
    assert merged.returncode == 0, merged.stderr
    ours = load_file(str(view / "model.safetensors"))
    torchtunes = {}
    for shard in epoch.glob("model*.safetensors"):
        torchtunes.update(load_file(str(shard)))
    assert ours.keys() == torchtunes.keys()
    changed = [
        name
        for name in ours
        if not torch.equal(ours[name], load_file(str(Path(tiny["folder"]) / "model.safetensors"))[name])
    ]
    assert changed  # the adapter changed something
    for name in ours:
        assert torch.allclose(ours[name].float(), torchtunes[name].float(), atol=1e-5), name


def test_the_system_prompt_and_generation_settings_reach_the_tiny_models_evaluation(adapter_and_merged_set):
    from inspect_ai.log import list_eval_logs, read_eval_log

    from torchtune_reader import component_arguments, torchtune_reads

    run_dir = adapter_and_merged_set / "adapter"
    trained_with = component_arguments(torchtune_reads(run_dir / "finetune.yaml"), "dataset")["new_system_prompt"]
    assert trained_with == SYSTEM_PROMPT
    logs = list_eval_logs(str(run_dir / "evaluations" / "echo"))
    assert len(logs) == 2
    for info in logs:
        log = read_eval_log(info.name)
        assert (log.plan.config.temperature, log.plan.config.max_tokens, log.plan.config.seed) == (0.0, 3, 7)
        [sample] = log.samples
        [model_call] = [event for event in sample.events if event.event == "model"]
        assert model_call.input[0].role == "system" and model_call.input[0].text == trained_with
        assert len(log.eval.metadata["expset_prompt_sha256"]) == 64


def test_a_finished_run_whose_training_inputs_changed_since_it_ran_is_flagged(
    adapter_and_merged_set, tmp_path, monkeypatch
):
    import shutil

    monkeypatch.setenv("EXPSET_PROFILE", str(adapter_and_merged_set.parent / "profile.toml"))
    copy = tmp_path / "copy"  # a copy moved elsewhere: what it trains on is the same
    shutil.copytree(adapter_and_merged_set, copy, symlinks=True)
    for run, old, new in (
        ("merged", "  batch_size: 2\n", "  batch_size: 1\n"),
        ("adapter", "max_tokens: 3", "max_tokens: 4"),
    ):
        setup = copy / run / "setup_finetune.yaml"
        assert old in setup.read_text()
        setup.write_text(setup.read_text().replace(old, new))  # a training input; an evaluation's setting
    assert expset("scaffold", str(copy)).exit_code == 0
    runs = {run["run"]: run for run in json.loads(expset("status", str(copy), "--json").stdout)["runs"]}
    assert (runs["merged"]["setup_changed"], runs["adapter"]["setup_changed"]) == (True, False)
    shown = expset("status", str(copy)).stdout
    assert "1 run(s) ran with a setup_finetune.yaml that has changed since" in " ".join(shown.split())


def test_the_validation_loss_is_in_the_training_log_at_every_interval(adapter_and_merged_set):
    from expset.core.report import parse_training_log

    [log] = (adapter_and_merged_set / "adapter" / "logs").glob("log_*.txt")
    rows = parse_training_log(log.read_text())
    validated = [row for row in rows if "val_loss" in row]
    assert [row["step"] for row in validated] == [1.0, 2.0, 3.0, 4.0]  # every step of 2 epochs × 2 steps
    assert all(row["val_loss"] > 0 for row in validated)
    config = load_yaml((adapter_and_merged_set / "adapter" / "finetune.yaml").read_text(), "finetune.yaml")
    assert (config["dataset"]["split"], config["dataset_val"]["split"]) == ("train[:75%]", "train[75%:]")

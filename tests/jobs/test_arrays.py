"""Large sets as SLURM job arrays, against a stand-in for SLURM's commands (the real cluster's test is in
tests/e2e): one ``sbatch`` per step kind, each evaluation task after its own run's fine-tune, every task a job
of its own to ``status`` and ``--resubmit``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.status import set_status
from expset.submit import submit_set

from fake_slurm import FakeSlurm
from site_helpers import expset


@pytest.fixture
def set_dir(site):
    created = site.create(vary={"model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"], "lora_rank": [8, 16, 32]})
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def submit(set_dir, slurm, **options):
    return submit_set(load_set(set_dir), set_dir, SlurmClient(slurm), **options)


def sbatch_calls(slurm):
    return [call for call in slurm.calls if call[0] == "sbatch"]


def test_runs_that_ask_for_the_same_resources_go_as_one_array_per_step_kind(set_dir):
    slurm = FakeSlurm()
    report = submit(set_dir, slurm, array=True, throttle=2)
    calls = sbatch_calls(slurm)
    assert len(calls) == 2 * 4  # two models (their resources differ) × the fine-tune and three evaluations
    assert all("--array=0-2%2" in call for call in calls)
    fine_tune, *evaluations = calls[:4]
    assert not any(arg.startswith("--dependency") for arg in fine_tune)
    assert {next(a for a in call if a.startswith("--dependency")) for call in evaluations} == {
        "--dependency=aftercorr:101"
    }
    assert sorted(report.submitted) == ["1B_rank16", "1B_rank32", "1B_rank8", "3B_rank16", "3B_rank32", "3B_rank8"]
    assert [job.job_id for job in report.submitted["1B_rank16"]] == ["101_1", "102_1", "103_1", "104_1"]
    assert report.submitted["1B_rank16"][1].after == "101_1"


def test_an_array_task_runs_its_runs_own_script_with_its_output_where_that_script_puts_it(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm, array=True)
    script = sbatch_calls(slurm)[0][-1]
    text = Path(script).read_text()
    assert f"  {set_dir}/1B_rank16/finetune.slurm\n" in text and f"  {set_dir}/1B_rank8/finetune.slurm\n" in text
    assert f"  {set_dir}/1B_rank8/logs/finetune-%j.out\n" in text
    assert "#SBATCH --gres=gpu:1" in text and "#SBATCH --job-name=finetune[3]@" in text


def test_every_task_is_a_job_of_its_run_and_submitting_again_submits_nothing(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm, array=True)
    statuses = set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs
    assert {status.progress.value for status in statuses} == {"pending"}
    assert {status.job_id for status in statuses if status.run.startswith("1B")} == {"101_0", "101_1", "101_2"}
    again = submit(set_dir, slurm, array=True)
    assert again.submitted == {} and len(sbatch_calls(slurm)) == 8


def test_one_failed_run_of_an_array_is_resubmitted_alone_with_its_own_scripts(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm, array=True)
    for job in slurm.jobs.values():
        job.state = "COMPLETED"
    slurm.jobs["101_1"].state = "FAILED"
    for task in ("102_1", "103_1", "104_1"):
        slurm.jobs[task].state = "CANCELLED"
    again = submit(set_dir, slurm, resubmit=True)
    assert list(again.submitted) == ["1B_rank16"]
    calls = sbatch_calls(slurm)[8:]
    assert [call[-1].removeprefix(f"{set_dir}/") for call in calls] == [
        "1B_rank16/finetune.slurm",
        "1B_rank16/evaluations/capitalization/evaluate_epoch_0.slurm",
        "1B_rank16/evaluations/capitalization/evaluate_epoch_1.slurm",
        "1B_rank16/evaluations/arithmetic/evaluate_epoch_1.slurm",
    ]


def test_tasks_whose_submitted_lines_were_lost_are_found_again_by_their_arrays_comment(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm, array=True)
    ledger_file = set_dir / ".expset" / "jobs.jsonl"
    intents = [line for line in ledger_file.read_text().splitlines() if json.loads(line)["event"] == "intent"]
    ledger_file.write_text("\n".join(intents) + "\n")  # a crash before any submitted line reached the disk
    again = submit(set_dir, slurm, array=True)
    assert again.submitted == {} and sum("recovered job" in note for note in again.notes) == 24


def test_large_sets_use_arrays_unless_told_not_to(set_dir, monkeypatch):
    monkeypatch.setattr("expset.submit.ARRAY_FROM", 6)
    slurm = FakeSlurm()
    submit(set_dir, slurm)
    assert len(sbatch_calls(slurm)) == 8
    other = FakeSlurm()
    (set_dir / ".expset" / "jobs.jsonl").unlink()
    submit(set_dir, other, array=False)
    assert len(sbatch_calls(other)) == 24


def test_max_jobs_takes_the_runs_of_an_array_that_fit(set_dir):
    slurm = FakeSlurm()
    report = submit(set_dir, slurm, array=True, max_jobs=9)
    assert sorted(report.submitted) == ["1B_rank16", "1B_rank8"]
    assert sorted(report.left) == ["1B_rank32", "3B_rank16", "3B_rank32", "3B_rank8"]
    assert all("--array=0-1" in call for call in sbatch_calls(slurm))

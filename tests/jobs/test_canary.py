"""``submit --canary`` against a stand-in for SLURM's commands (the real cluster's test is in tests/e2e): the
heaviest run of each model goes first, briefly, and SLURM holds every other job of the set until it succeeds."""

from __future__ import annotations

import pytest

from expset.core.canary import CANARY_STEPS, canary_setup, heaviest_runs
from expset.sets import load_set, read_setup
from expset.slurm.client import SlurmClient
from expset.status import set_status

from fake_slurm import FakeSlurm
from site_helpers import expset


@pytest.fixture
def set_dir(site, slurm):
    created = site.create(vary={"model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"], "lora_rank": [8, 16]})
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def sbatch_calls(slurm: FakeSlurm) -> list[list[str]]:
    return [call for call in slurm.calls if call[0] == "sbatch"]


def dependency(call: list[str]) -> str | None:
    return next((arg.removeprefix("--dependency=afterok:") for arg in call if arg.startswith("--dependency")), None)


def test_the_canary_of_each_model_is_its_run_that_needs_the_most_memory(set_dir):
    setups = {
        name: read_setup(set_dir / name / "setup_finetune.yaml") for name in ("1B_rank8", "1B_rank16", "3B_rank8")
    }
    assert heaviest_runs(setups) == {"Llama-3.2-1B-Instruct": "1B_rank16", "Llama-3.2-3B-Instruct": "3B_rank8"}


def test_a_canary_trains_a_few_steps_of_one_epoch_and_evaluates_that_epoch_only(set_dir):
    canary = canary_setup(read_setup(set_dir / "1B_rank16" / "setup_finetune.yaml"))
    assert (canary.training.epochs, canary.training.max_steps_per_epoch) == (1, CANARY_STEPS)
    assert [evaluation.epochs for evaluation in canary.evaluations] == [[0], [0]]
    assert canary.resources.time == "01:00:00"


def test_the_canaries_go_first_and_every_other_job_of_the_set_waits_for_them(set_dir, slurm):
    result = expset("submit", str(set_dir), "--canary")
    assert result.exit_code == 0, result.stderr
    calls = sbatch_calls(slurm)
    canary_scripts = [call[-1] for call in calls[:6]]
    assert canary_scripts == [
        f"{set_dir}/1B_rank16/canary/finetune.slurm",
        f"{set_dir}/1B_rank16/canary/evaluations/capitalization/evaluate_epoch_0.slurm",
        f"{set_dir}/1B_rank16/canary/evaluations/arithmetic/evaluate_epoch_0.slurm",
        f"{set_dir}/3B_rank16/canary/finetune.slurm",
        f"{set_dir}/3B_rank16/canary/evaluations/capitalization/evaluate_epoch_0.slurm",
        f"{set_dir}/3B_rank16/canary/evaluations/arithmetic/evaluate_epoch_0.slurm",
    ]
    canary_ids = ":".join(str(job_id) for job_id in range(101, 107))
    fine_tunes = [call for call in calls[6:] if call[-1].endswith("/finetune.slurm")]
    assert len(fine_tunes) == 4 and {dependency(call) for call in fine_tunes} == {canary_ids}
    assert all("--kill-on-invalid-dep=yes" in call for call in fine_tunes)
    assert "--limit 2" in (set_dir / "1B_rank16/canary/evaluations/arithmetic/evaluate_epoch_0.slurm").read_text()
    assert "the rest of the set is held until the canaries succeed" in result.stderr


def test_canaries_under_way_are_waited_for_again_not_submitted_twice(set_dir, slurm):
    first = expset("submit", str(set_dir), "--canary", "--max-jobs", "9")  # the canaries' 6 jobs, then no room
    assert "4 run(s) left for a later submit" in " ".join(first.stderr.split())
    before = len(sbatch_calls(slurm))
    assert expset("submit", str(set_dir), "--canary", "--max-jobs", "14").exit_code == 0
    later = sbatch_calls(slurm)[before:]
    assert not [call for call in later if "/canary/" in call[-1]]
    assert [call[-1].removeprefix(f"{set_dir}/") for call in later if call[-1].endswith("finetune.slurm")] == [
        "1B_rank8/finetune.slurm",
        "1B_rank16/finetune.slurm",
    ]
    assert {dependency(call) for call in later if call[-1].endswith("finetune.slurm")} == {
        ":".join(str(job_id) for job_id in range(101, 107))
    }


def test_a_failed_canary_is_named_in_status_and_stops_the_next_submit_until_resubmit(set_dir, slurm):
    expset("submit", str(set_dir), "--canary")
    slurm.jobs["101"].state = "FAILED"
    (set_dir / "1B_rank16" / "canary" / "logs" / "finetune-101.out").write_text(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n"
    )
    for job in slurm.jobs.values():
        if job.state == "PENDING" and job.job_id not in ("104", "105", "106"):
            job.state = "CANCELLED"  # SLURM's --kill-on-invalid-dep
    shown = " ".join(expset("status", str(set_dir)).stdout.split())
    assert "canary 1B_rank16 failed: finetune: out of GPU memory: CUDA out of memory" in shown
    assert "the jobs held for it were cancelled" in shown
    [canary] = [c for c in set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).canaries if c.run == "1B_rank16"]
    assert canary.output == "1B_rank16/canary/logs/finetune-101.out"
    refused = expset("submit", str(set_dir), "--canary")
    assert refused.exit_code == 7 and "--resubmit" in refused.stderr  # the cancelled runs go again only with it
    again = expset("submit", str(set_dir), "--canary", "--resubmit")
    assert again.exit_code == 0, again.stderr
    assert "canary of Llama-3.2-1B-Instruct: 1B_rank16 (submitted" in again.stderr


def test_a_later_round_keeps_the_canary_it_had_and_waits_only_for_its_jobs_still_queued(site, slurm):
    set_dir = site.create(vary={"lr": [1e-4, 3e-4, 1e-3]}, fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words"})
    expset("scaffold", str(set_dir))
    first = expset("submit", str(set_dir), "--canary", "--max-jobs", "7")  # the canary's 3 jobs and one run
    assert first.exit_code == 0, first.stderr
    slurm.jobs["101"].state = "COMPLETED"  # the canary's fine-tune is done; its evaluations still wait
    before = len(sbatch_calls(slurm))
    assert expset("submit", str(set_dir), "--canary", "--max-jobs", "15").exit_code == 0
    later = sbatch_calls(slurm)[before:]
    assert not [call for call in later if "/canary/" in call[-1]]  # no second canary
    held = {dependency(call) for call in later if call[-1].endswith("/finetune.slurm")}
    assert held == {"102:103"}

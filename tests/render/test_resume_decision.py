"""When a fine-tune's job resumes from a saved epoch and when it starts over: the job script itself, run by
bash with stand-ins for the training command, on run folders left as real jobs leave them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from site_helpers import expset


@pytest.fixture
def run_dir(site):
    set_dir = site.create(
        vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words", "epochs": 3}
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    return set_dir / "rank8"


def run_job(run_dir, tmp_path) -> str:
    """Run the job script with ``python`` standing in for training; the arguments training got."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python").write_text('#!/bin/sh\necho "$@" > "$EXPSET_TEST_ARGS"\n')
    (bin_dir / "python").chmod(0o755)
    arguments = tmp_path / "arguments"
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "EXPSET_TEST_ARGS": str(arguments)}
    environment.pop("SLURM_JOB_ID", None)
    subprocess.run(["bash", str(run_dir / "finetune.slurm")], env=environment, capture_output=True, check=False)
    return arguments.read_text()


def save_epoch(run_dir, epoch: int, *, recipe_state: bool = True) -> None:
    """What torchtune leaves after an epoch: the adapter, then (but after the last) the recipe state."""
    time.sleep(0.01)
    (run_dir / f"epoch_{epoch}").mkdir(exist_ok=True)
    (run_dir / f"epoch_{epoch}" / "adapter_model.pt").write_bytes(b"adapter")
    if recipe_state:
        time.sleep(0.01)
        (run_dir / "recipe_state").mkdir(exist_ok=True)
        (run_dir / "recipe_state" / "recipe_state.pt").write_bytes(b"state")


def test_a_first_job_starts_over(run_dir, tmp_path):
    assert "resume_from_checkpoint" not in run_job(run_dir, tmp_path)
    assert (run_dir / "logs" / "finetune.started").is_file()


def test_a_job_stopped_after_an_epoch_of_this_setup_resumes_from_it(run_dir, tmp_path):
    run_job(run_dir, tmp_path)
    save_epoch(run_dir, 0)
    save_epoch(run_dir, 1)
    assert run_job(run_dir, tmp_path).endswith("resume_from_checkpoint=True\n")


def test_an_epoch_saved_only_in_part_is_not_resumed_from(run_dir, tmp_path):
    run_job(run_dir, tmp_path)
    save_epoch(run_dir, 0)
    save_epoch(run_dir, 1, recipe_state=False)  # killed between the adapter and the recipe state
    assert "resume_from_checkpoint" not in run_job(run_dir, tmp_path)


def test_epochs_left_by_an_earlier_setup_are_never_resumed_from(run_dir, tmp_path):
    run_job(run_dir, tmp_path)
    save_epoch(run_dir, 0)
    save_epoch(run_dir, 1)
    (run_dir / "logs" / "finetune.started").write_text("the digest of another setup\n")
    assert "resume_from_checkpoint" not in run_job(run_dir, tmp_path)  # a fresh start of this setup
    save_epoch(run_dir, 0)  # this setup's first epoch; epoch_1, the highest (torchtune's pick), is the earlier's
    assert "resume_from_checkpoint" not in run_job(run_dir, tmp_path)


def test_a_finished_fine_tune_run_again_starts_over(run_dir, tmp_path):
    run_job(run_dir, tmp_path)
    for epoch in range(3):
        save_epoch(run_dir, epoch, recipe_state=epoch < 2)
    assert "resume_from_checkpoint" not in run_job(run_dir, tmp_path)

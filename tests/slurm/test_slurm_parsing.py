"""Reading SLURM's machine formats, and the ledger that survives a crash mid-write."""

import pytest

from expset.core.jobs import JobState, job_state
from expset.slurm.client import (
    JobIdentity,
    QueuedJob,
    job_comment,
    parse_job_comment,
    parse_job_id,
    parse_queue,
    parse_states,
    sacct_argv,
    sbatch_argv,
    squeue_argv,
)


@pytest.mark.parametrize(
    ("stdout", "job_id"), [("1234\n", "1234"), ("1234;cluster\n", "1234"), ("", None), ("sbatch: error: oops\n", None)]
)
def test_the_job_id_comes_from_sbatch_parsable_output(stdout, job_id):
    assert parse_job_id(stdout) == job_id


def test_evaluations_wait_for_a_successful_fine_tune_and_die_with_a_failed_one(tmp_path):
    assert sbatch_argv(tmp_path / "e.slurm", after="41") == [
        "sbatch",
        "--parsable",
        "--dependency=afterok:41",
        "--kill-on-invalid-dep=yes",
        str(tmp_path / "e.slurm"),
    ]


def test_every_job_carries_its_identity_to_slurm_in_its_comment(tmp_path):
    comment = job_comment("abc123", "f00d", "evaluate/echo/epoch_1", "lr1e-4")
    assert sbatch_argv(tmp_path / "e.slurm", comment=comment)[2] == f"--comment={comment}"
    assert parse_job_comment(comment) == JobIdentity("abc123", "f00d", "evaluate/echo/epoch_1", "lr1e-4")
    assert parse_job_comment("a comment someone else wrote") is None


def test_squeue_lines_give_states_reasons_and_comments():
    listed = "7|RUNNING|None|expset:k:t:finetune:r\n8|PENDING|DependencyNeverSatisfied|a|b\n8.0|RUNNING|None|\n"
    assert parse_queue(listed) == {
        "7": QueuedJob(JobState.RUNNING, "RUNNING", "None", "expset:k:t:finetune:r"),
        "8": QueuedJob(JobState.PENDING, "PENDING", "DependencyNeverSatisfied", "a|b"),
    }


def test_one_query_covers_many_jobs():
    assert squeue_argv() == ["squeue", "--me", "--noheader", "--states=all", "--array", "--format=%i|%T|%r|%k"]
    assert sacct_argv(["1", "2"])[-1] == "--jobs=1,2"
    assert "--completion" in sacct_argv(["1"], completion_log=True)


def test_states_are_read_from_squeue_and_sacct_lines_skipping_job_steps():
    sacct = "12|COMPLETED\n12.batch|COMPLETED\n13|CANCELLED by 0\n14|OUT_OF_MEMORY\n15|RUNNING\n16|WEIRD\n"
    assert parse_states(sacct) == {
        "12": JobState.COMPLETED,
        "13": JobState.CANCELLED,
        "14": JobState.FAILED,
        "15": JobState.RUNNING,
        "16": JobState.UNKNOWN,
    }


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("PENDING", JobState.PENDING),
        ("TIMEOUT", JobState.FAILED),
        ("COMPLETING", JobState.RUNNING),
        ("CANCELLED+", JobState.CANCELLED),
    ],
)
def test_slurm_state_names_map_to_what_expset_reports(name, state):
    assert job_state(name) is state

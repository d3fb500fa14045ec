"""Reading SLURM's machine formats, and the ledger that survives a crash mid-write."""

import pytest

from expset import ledger
from expset.backends.slurm import parse_job_id, parse_states, sacct_argv, sbatch_argv, squeue_argv
from expset.core.status import JobState, job_state


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


def test_one_query_covers_many_jobs():
    assert squeue_argv() == ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T"]
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


def entry(run: str, job_id: str, step: str = ledger.FINETUNE) -> ledger.Entry:
    return ledger.Entry(
        run=run, step=step, job_id=job_id, time="2026-01-01T00:00:00+00:00", script="s", script_sha256="0"
    )


def test_the_newest_entry_of_a_step_is_its_current_job(tmp_path):
    ledger.append(tmp_path, [entry("a", "1"), entry("b", "2")])
    ledger.append(tmp_path, [entry("a", "3")])
    assert {key: e.job_id for key, e in ledger.current(ledger.read(tmp_path)).items()} == {
        ("a", "finetune"): "3",
        ("b", "finetune"): "2",
    }


def test_a_line_torn_by_a_crash_is_skipped(tmp_path):
    ledger.append(tmp_path, [entry("a", "1")])
    with (tmp_path / ledger.LEDGER).open("a") as handle:
        handle.write('{"run": "b", "step": "fine')
    assert [e.job_id for e in ledger.read(tmp_path)] == ["1"]

"""``expset archive --remove-after-verify``: the only deletion, of exactly what the verified archive holds."""

from __future__ import annotations

import os

import pytest

from archive.archived_sets import link_logs_elsewhere, manifest_of, scaffolded_with_epochs, tree
from site_helpers import expset

SET = "scaffold-test_2025-10-18"


@pytest.fixture
def set_dir(site):
    return scaffolded_with_epochs(site)


def files_of(found: dict[str, str]) -> set[str]:
    return {path for path in found if not path.endswith("/")}


def test_it_removes_exactly_the_files_the_archive_holds(set_dir, out):
    unarchived = set_dir / ".expset-undeleted-0a1b2c3d"  # what expset remove could not delete: left out, stays
    unarchived.mkdir()
    (unarchived / "notes").write_text("x\n")
    before = files_of(tree(set_dir))
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify")
    assert result.exit_code == 0, result.stderr
    archived = {entry["path"] for entry in manifest_of(out / f"{SET}.tar.gz")["files"]}
    assert files_of(tree(set_dir)) == before - archived == {".expset-undeleted-0a1b2c3d/notes"}
    assert sorted(os.listdir(set_dir)) == [".expset-undeleted-0a1b2c3d"]  # emptied folders went too
    assert "--remove-after-verify" in result.stderr and "freed" in result.stderr


@pytest.mark.parametrize(("runs", "checkpoints"), [((), "last"), ((), "none"), (("1B_rank8",), "evaluated")])
def test_checkpoints_left_out_refuse_the_removal_before_anything_is_written(set_dir, out, runs, checkpoints):
    before = tree(set_dir)
    result = expset(
        "archive", str(set_dir), *runs, "--to", str(out), "--yes", "--checkpoints", checkpoints, "--remove-after-verify"
    )
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert "--remove-after-verify" in first and "checkpoint folder(s)" in first and "kB" in first
    assert "nothing was written" in first
    assert "--checkpoints all" in result.stderr and f"expset clean {set_dir} --checkpoints all" in result.stderr
    assert os.listdir(out) == [] and tree(set_dir) == before


def test_once_the_checkpoints_are_cleaned_the_run_goes_whole(set_dir, out, slurm):
    assert expset("clean", str(set_dir), "--runs", "1B_rank8", "--checkpoints", "all", "--yes").exit_code == 0
    result = expset("archive", str(set_dir), "1B_rank8", "--to", str(out), "--yes", "--remove-after-verify")
    assert result.exit_code == 0, result.stderr
    assert not (set_dir / "1B_rank8").exists()


def test_a_set_archived_whole_with_its_checkpoints_is_gone_afterwards(set_dir, out):
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify")
    assert result.exit_code == 0, result.stderr
    assert not set_dir.exists()
    assert "expset restore" in result.stderr
    restored = out / "restored"
    restored.mkdir()
    assert expset("restore", str(out / f"{SET}.tar.gz"), "--root", str(restored)).exit_code == 0


def test_a_runs_archive_removes_that_run_alone_and_keeps_the_sets_records(set_dir, out):
    others = {path: digest for path, digest in tree(set_dir).items() if not path.startswith("1B_rank8")}
    result = expset(
        "archive", str(set_dir), "1B_rank8", "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify"
    )
    assert result.exit_code == 0, result.stderr
    assert {path: digest for path, digest in tree(set_dir).items() if not path.startswith("1B_rank8")} == others
    assert not (set_dir / "1B_rank8").exists()


def test_without_the_flag_nothing_is_removed(set_dir, out):
    before = tree(set_dir)
    assert expset("archive", str(set_dir), "--to", str(out), "--yes").exit_code == 0
    assert tree(set_dir) == before


def test_runs_with_jobs_pending_are_refused_before_anything_is_written(set_dir, out, slurm):
    assert expset("submit", str(set_dir), "--no-check").exit_code == 0
    before = tree(set_dir)
    result = expset(
        "archive", str(set_dir), "1B_rank8", "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify"
    )
    assert result.exit_code == 75
    assert (
        "1B_rank8 has jobs pending or running (or in a state SLURM cannot tell); nothing was archived or removed"
        in (result.stderr)
    )
    assert os.listdir(out) == [] and tree(set_dir) == before


def test_runs_whose_jobs_ended_are_removed_with_the_lock_file(set_dir, out, slurm):
    assert expset("submit", str(set_dir), "--no-check").exit_code == 0
    for job in slurm.jobs.values():
        job.state = "COMPLETED"
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify")
    assert result.exit_code == 0, result.stderr
    assert not set_dir.exists()


def test_a_file_reached_through_a_link_stays_where_it_is(set_dir, out, tmp_path):
    elsewhere = tmp_path / "scratch-logs"
    link_logs_elsewhere(set_dir / "3B_rank8", elsewhere)
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify")
    assert result.exit_code == 0, result.stderr
    assert (elsewhere / "finetune-99.out").read_text() == "loss 1.0\n"
    assert "stays: 3B_rank8/logs/finetune-99.out (reached through the link 3B_rank8/logs)" in result.stderr


def test_when_slurm_does_not_answer_nothing_is_archived_or_removed(set_dir, out, slurm):
    from expset.slurm.runner import Completed

    assert expset("submit", str(set_dir), "--no-check").exit_code == 0
    unreachable = "slurm_load_jobs error: Unable to contact slurm controller"
    slurm.on_squeue = lambda argv: Completed(tuple(argv), 1, "", unreachable)
    before = tree(set_dir)
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify")
    assert result.exit_code == 75 and "squeue did not answer" in result.stderr.splitlines()[0]
    assert os.listdir(out) == [] and tree(set_dir) == before

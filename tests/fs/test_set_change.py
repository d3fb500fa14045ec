"""A change of an existing set's shape is all or nothing: written beside the set, committed by one rename,
and finished by whoever finds it committed."""

from __future__ import annotations

import os

import pytest

from expset.errors import BusyError
from expset.fs import set_change
from expset.fs.set_change import PENDING, change_set, finish_change, staging_for
from expset.fs.set_lock import set_lock


@pytest.fixture
def set_dir(tmp_path):
    folder = tmp_path / "my-set"
    (folder / "run_a" / "evaluations").mkdir(parents=True)
    (folder / "run_a" / "run.yaml").write_text("run: a\n")
    (folder / "expset.yaml").write_text("old record\n")
    (folder / "README.md").write_text("old readme\n")
    return folder


def test_new_folders_are_added_and_top_files_replaced_with_the_record_last(set_dir, monkeypatch):
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(os.path.basename(b)), real_replace(a, b)))
    change_set(
        set_dir,
        ["run_b", "run_b/evaluations", "run_a", "run_a/evaluations", "run_a/evaluations/new_task"],
        [("run_b/run.yaml", "run: b\n"), ("README.md", "new readme\n"), ("expset.yaml", "new record\n")],
    )
    assert (set_dir / "run_b" / "run.yaml").read_text() == "run: b\n"
    assert (set_dir / "run_a" / "evaluations" / "new_task").is_dir()
    assert (set_dir / "run_a" / "run.yaml").read_text() == "run: a\n"
    assert replaced == ["README.md", "expset.yaml"]
    assert not (set_dir / PENDING).exists() and not staging_for(set_dir).exists()


def test_a_file_below_the_top_that_the_set_has_is_never_replaced(set_dir):
    change_set(set_dir, ["run_a"], [("run_a/run.yaml", "changed\n")])
    assert (set_dir / "run_a" / "run.yaml").read_text() == "run: a\n"


def test_removed_run_folders_go_with_the_change(set_dir):
    change_set(set_dir, [], [("expset.yaml", "new record\n")], remove_runs=["run_a"])
    assert sorted(os.listdir(set_dir)) == ["README.md", "expset.yaml"]


def test_a_change_that_died_after_its_commit_is_finished_by_the_next_reader(set_dir, monkeypatch):
    def die(*arguments, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(set_change, "_move_missing", die)
    with pytest.raises(KeyboardInterrupt):
        change_set(set_dir, ["run_b"], [("run_b/run.yaml", "run: b\n"), ("expset.yaml", "new record\n")])
    assert (set_dir / PENDING).is_dir()
    assert (set_dir / "expset.yaml").read_text() == "old record\n"  # readers still see the set before the change
    monkeypatch.undo()
    assert finish_change(set_dir)
    assert (set_dir / "run_b" / "run.yaml").read_text() == "run: b\n"
    assert (set_dir / "expset.yaml").read_text() == "new record\n"
    assert not (set_dir / PENDING).exists()
    assert not finish_change(set_dir)  # nothing left to finish


def test_a_change_that_died_before_its_commit_left_the_set_untouched_and_is_cleared_by_the_next(set_dir):
    leftover = staging_for(set_dir)
    (leftover / "tree" / "half").mkdir(parents=True)
    change_set(set_dir, ["run_b"], [("run_b/run.yaml", "run: b\n")])
    assert not leftover.exists()
    assert not (set_dir / "half").exists()
    assert (set_dir / "run_b").is_dir()


def test_a_change_being_made_by_a_live_process_is_not_finished_by_a_reader(set_dir):
    (set_dir / PENDING / "tree" / "run_b").mkdir(parents=True)
    with set_lock(set_dir):
        assert not finish_change(set_dir)
    assert (set_dir / PENDING).is_dir()
    assert finish_change(set_dir)
    assert (set_dir / "run_b").is_dir()


def test_a_change_planned_from_a_record_that_changed_since_is_refused(set_dir):
    with pytest.raises(BusyError, match="changed since this command read it"):
        change_set(set_dir, ["run_b"], [("expset.yaml", "new\n")], expected_record=b"what it was before\n")
    assert not (set_dir / "run_b").exists()
    change_set(set_dir, ["run_b"], [("expset.yaml", "new\n")], expected_record=b"old record\n")
    assert (set_dir / "run_b").is_dir()


def test_a_set_reached_through_a_link_is_changed_where_it_is(set_dir, tmp_path):
    link = tmp_path / "elsewhere" / "link-to-set"
    link.parent.mkdir()
    link.symlink_to(set_dir)
    change_set(link, ["run_b"], [("expset.yaml", "new record\n")])
    assert (set_dir / "run_b").is_dir() and (set_dir / "expset.yaml").read_text() == "new record\n"
    assert os.listdir(link.parent) == ["link-to-set"]

"""``expset archive``: what it refuses before writing, what it leaves out, and what its removal never touches."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

from archive.archived_sets import members, scaffolded_with_epochs, tree
from site_helpers import expset

SET = "scaffold-test_2025-10-18"


@pytest.fixture
def set_dir(site):
    return scaffolded_with_epochs(site)


def archive_and_remove(set_dir, out, *runs):
    return expset(
        "archive", str(set_dir), *runs, "--to", str(out), "--yes", "--checkpoints", "all", "--remove-after-verify"
    )


def test_an_empty_folder_reached_through_a_linked_folder_is_not_removed(set_dir, out, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "logs"
    (elsewhere / "emptysub").mkdir(parents=True)
    logs = set_dir / "1B_rank8" / "logs"
    shutil.rmtree(logs)
    os.symlink(elsewhere, logs)
    result = archive_and_remove(set_dir, out, "1B_rank8")
    assert result.exit_code == 0, result.stderr
    assert (elsewhere / "emptysub").is_dir()
    assert os.path.islink(logs)  # the run folder stays with the link: it is not the set's to remove


def test_a_file_that_changes_after_the_plan_of_the_removal_stays(set_dir, out, monkeypatch):
    from expset import archive_removal

    changed = set_dir / "1B_rank8" / "finetune.yaml"
    calls = []

    def refuse_none(set_dir, run_names):
        calls.append(run_names)
        if len(calls) == 2:  # just before the removal, after the plan of it
            with open(changed, "a") as handle:
                handle.write("# edited\n")

    monkeypatch.setattr(archive_removal, "refuse_active_runs", refuse_none)
    result = archive_and_remove(set_dir, out, "1B_rank8")
    assert result.exit_code == 0, result.stderr
    assert len(calls) == 2
    assert changed.read_text().endswith("# edited\n")
    assert "1B_rank8/finetune.yaml (changed since it was archived)" in result.stderr
    assert sorted(os.listdir(set_dir / "1B_rank8")) == ["finetune.yaml"]


def test_a_file_link_kept_is_said_to_be_a_link(set_dir, out, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("notes\n")
    os.symlink(target, set_dir / "1B_rank8" / "notes.txt")
    result = archive_and_remove(set_dir, out, "1B_rank8")
    assert result.exit_code == 0, result.stderr
    assert "1B_rank8/notes.txt (a link: its target stays)" in result.stderr
    assert target.read_text() == "notes\n"


def test_a_name_no_archive_can_hold_is_refused_before_writing(set_dir, out):
    folder = set_dir / "1B_rank8" / "evaluations"
    folder.mkdir(exist_ok=True)
    (folder / "a\\b.log").write_text("x\n")
    result = expset("archive", str(set_dir), "--to", str(out), "--yes")
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert "1B_rank8/evaluations/a\\b.log has a backslash in its name" in first and "nothing was written" in first
    assert os.listdir(out) == []


def test_leftovers_of_interrupted_commands_are_left_out_and_said_so(set_dir, out):
    removing = set_dir / "1B_rank8" / ".epoch_0.removing-0a1b2c3d"
    removing.mkdir()
    (removing / "adapter_model.safetensors").write_bytes(b"w")
    undeleted = set_dir / ".expset-undeleted-0a1b2c3d"
    undeleted.mkdir()
    (undeleted / "x.log").write_text("x\n")
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all")
    assert result.exit_code == 0, result.stderr
    names = list(members(out / f"{SET}.tar.gz"))
    assert not [name for name in names if ".removing-" in name or ".expset-undeleted-" in name]
    assert "1B_rank8/.epoch_0.removing-0a1b2c3d" in result.stderr and "interrupted expset clean" in result.stderr
    assert ".expset-undeleted-0a1b2c3d" in result.stderr and "expset remove" in result.stderr


def test_a_pending_change_is_never_archived_as_files(set_dir):
    from expset.archive import scan

    (set_dir / ".expset-pending" / "tree").mkdir(parents=True)
    (set_dir / ".expset-pending" / "tree" / "expset.yaml").write_text("x\n")
    files, folders, left_out = scan(set_dir)
    assert not [file for file in files if file.path.startswith(".expset-pending")]
    assert not [folder for folder in folders if folder.startswith(".expset-pending")]
    assert (".expset-pending", "a change of the set not yet carried out") in left_out


@pytest.mark.parametrize("remove", [False, True])
def test_another_command_holding_the_sets_lock_refuses_the_archive(set_dir, out, remove):
    from expset.fs.set_lock import set_lock

    before = tree(set_dir)
    flags = ["--checkpoints", "all", "--remove-after-verify"] if remove else []
    with set_lock(set_dir):
        result = expset("archive", str(set_dir), "--to", str(out), "--yes", *flags)
    assert result.exit_code == 75, result.stderr
    assert "another expset command" in result.stderr.splitlines()[0]
    assert os.listdir(out) == [] and tree(set_dir) == before


def test_the_lock_is_held_while_the_archive_is_written(set_dir, out, monkeypatch):
    from expset import archive as archiving
    from expset.errors import BusyError
    from expset.fs.set_lock import set_lock

    write = archiving.write_archive
    refused = []

    def write_while_trying_the_lock(*args, **kwargs):
        try:
            with set_lock(set_dir):
                pass
        except BusyError:
            refused.append(True)
        return write(*args, **kwargs)

    monkeypatch.setattr(archiving, "write_archive", write_while_trying_the_lock)
    assert expset("archive", str(set_dir), "--to", str(out), "--yes").exit_code == 0
    assert refused == [True]


def test_without_renameat2_a_file_is_never_renamed_over_one_that_appeared(tmp_path, monkeypatch):
    from expset.errors import TargetExistsError
    from expset.fs import writer

    source, target = tmp_path / "new.tmp", tmp_path / "archive.tar.gz"
    source.write_text("new\n")
    monkeypatch.setattr(writer, "_renameat2", lambda source, target: errno.ENOSYS)
    lexists = os.path.lexists

    def appears_after_the_check(path):
        found = lexists(path)
        if str(path) == str(target):
            target.write_text("someone else's\n")  # between the check and the move
        return found

    monkeypatch.setattr(writer.os.path, "lexists", appears_after_the_check)
    with pytest.raises(TargetExistsError):
        writer.move_into_place(source, target)
    monkeypatch.undo()
    assert target.read_text() == "someone else's\n" and source.read_text() == "new\n"


def test_without_renameat2_a_file_still_moves_into_place(tmp_path, monkeypatch):
    from expset.fs import writer

    source, target = tmp_path / "new.tmp", tmp_path / "archive.tar.gz"
    source.write_text("new\n")
    monkeypatch.setattr(writer, "_renameat2", lambda source, target: errno.ENOSYS)
    writer.move_into_place(source, target)
    assert target.read_text() == "new\n" and not source.exists()

"""Removing runs: ``expset remove`` takes runs out of a set, and a run folder deleted by hand counts as removed."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from expset.render.yaml_read import load_yaml

from site_helpers import expset


@pytest.fixture
def set_dir(site, slurm):
    created = site.create()
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def status_runs(set_dir) -> list[str]:
    result = expset("status", str(set_dir), "--json")
    return [run["run"] for run in json.loads(result.stdout)["runs"]]


def test_remove_deletes_the_runs_folder_and_takes_it_out_of_every_record(set_dir):
    result = expset("remove", str(set_dir), "3B_rank16", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "remove 3B_rank16: 8 files" in result.stderr
    assert not (set_dir / "3B_rank16").exists()
    assert "3B_rank16" not in status_runs(set_dir)
    assert "3B_rank16" not in [row["run"] for row in csv.DictReader((set_dir / "runs.csv").open())]
    record = load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")
    assert record["removed"] == ["3B_rank16"]
    assert record["run_count"] == 3
    assert record["history"][0]["change"] == "removed" and record["history"][0]["runs"] == ["3B_rank16"]


def test_the_bytes_said_to_be_freed_are_the_bytes_the_folder_held(set_dir):
    (set_dir / "1B_rank8" / "epoch_0").mkdir()
    (set_dir / "1B_rank8" / "epoch_0" / "adapter_model.safetensors").write_bytes(b"\0" * 1_500_000)
    held = sum(path.stat().st_size for path in (set_dir / "1B_rank8").rglob("*") if path.is_file())
    result = expset("remove", str(set_dir), "1B_rank8", "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"{held / 1e6:.1f} MB freed" in result.stderr


def test_removing_a_removed_run_again_is_refused_in_one_line(set_dir):
    expset("remove", str(set_dir), "3B_rank16", "--yes")
    again = expset("remove", str(set_dir), "3B_rank16", "--yes")
    assert again.exit_code == 2
    assert again.stderr.startswith("error: 3B_rank16: already removed from set scaffold-test_2025-10-18")


def test_a_run_the_set_does_not_have_is_refused_and_nothing_is_removed(set_dir):
    result = expset("remove", str(set_dir), "1B_rank8", "7B_rank8", "--yes")
    assert result.exit_code == 2
    assert "7B_rank8: not a run of set" in result.stderr
    assert (set_dir / "1B_rank8" / "run.yaml").is_file()


def test_removing_every_fine_tune_is_refused(set_dir):
    result = expset("remove", str(set_dir), "1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16", "--yes")
    assert result.exit_code == 2
    assert "no fine-tune of the set would be left" in result.stderr


def test_without_a_terminal_or_yes_nothing_is_removed(set_dir):
    result = expset("remove", str(set_dir), "1B_rank8")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert (set_dir / "1B_rank8").is_dir()


def test_a_declined_removal_removes_nothing(set_dir, monkeypatch):
    monkeypatch.setattr("expset.cli.prompts.require_terminal", lambda what, hint: None)
    monkeypatch.setattr("expset.cli.prompts.ask_confirm", lambda message, default=True: False)
    result = expset("remove", str(set_dir), "1B_rank8")
    assert result.exit_code == 1
    assert (set_dir / "1B_rank8").is_dir()
    assert "removed" not in load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")


def test_a_run_with_a_job_pending_is_refused_and_named_with_the_cancel_command(set_dir, slurm):
    assert expset("submit", str(set_dir), "--runs", "1B_rank8", "--no-check").exit_code == 0
    result = expset("remove", str(set_dir), "1B_rank8", "--yes")
    assert result.exit_code == 75
    assert "error: 1B_rank8 has jobs pending or running (or in a state SLURM cannot tell); nothing was removed" in (
        result.stderr
    )
    assert "expset cancel" in result.stderr and "--runs 1B_rank8" in result.stderr
    assert (set_dir / "1B_rank8" / "run.yaml").is_file()


def test_a_run_whose_jobs_ended_is_removed(set_dir, slurm):
    assert expset("submit", str(set_dir), "--runs", "1B_rank8", "--no-check").exit_code == 0
    for job in slurm.jobs.values():
        job.state = "COMPLETED"
    assert expset("remove", str(set_dir), "1B_rank8", "--yes").exit_code == 0


def test_a_run_folder_deleted_by_hand_is_reported_as_removed_and_not_recreated(set_dir):
    shutil.rmtree(set_dir / "3B_rank8")
    status = expset("status", str(set_dir), "--json")
    assert "1 run folder is gone, so it is removed from the set: 3B_rank8" in status.stderr
    document = json.loads(status.stdout)
    assert "3B_rank8" not in [run["run"] for run in document["runs"]]
    assert document["removed"] == ["3B_rank8"]
    scaffold = expset("scaffold", str(set_dir))
    assert scaffold.exit_code == 0, scaffold.stderr
    assert not (set_dir / "3B_rank8").exists()
    assert expset("submit", str(set_dir), "--dry-run", "--no-check").exit_code == 0
    assert not (set_dir / "3B_rank8").exists()


def test_a_run_folder_deleted_by_hand_is_recorded_by_remove(set_dir):
    shutil.rmtree(set_dir / "3B_rank8")
    result = expset("remove", str(set_dir), "3B_rank8", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "its folder is already gone" in result.stderr
    assert load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")["removed"] == ["3B_rank8"]
    assert "folder is gone" not in expset("status", str(set_dir)).stderr


def test_asking_for_a_removed_run_by_name_says_it_was_removed(set_dir):
    shutil.rmtree(set_dir / "3B_rank8")
    result = expset("scaffold", str(set_dir), "--runs", "3B_rank8")
    assert result.exit_code == 2
    assert "--runs: 3B_rank8 was removed from set" in result.stderr


def test_status_of_a_set_never_scaffolded_lists_every_run(site):
    created = site.create()
    result = expset("status", str(created), "--json")
    assert result.exit_code == 7, result.stderr
    assert len(json.loads(result.stdout)["runs"]) == 4


def test_which_still_decodes_a_removed_run_and_says_it_was_removed(set_dir):
    expset("remove", str(set_dir), "3B_rank16", "--yes")
    result = expset("which", str(set_dir), "3B_rank16")
    assert result.exit_code == 0
    assert "lora_rank" in result.stdout and "3B_rank16 was removed from the set" in result.stderr


def test_remove_after_an_extension_that_died_after_its_commit_keeps_both(site, set_dir, monkeypatch):
    from expset.fs import set_change
    from expset.render.yaml_text import to_yaml

    def die(*arguments, **options):
        raise KeyboardInterrupt

    plan_file = site.root / "bigger.yaml"
    plan_file.write_text(to_yaml(site.plan(vary={**site.plan()["vary"], "lora_rank": [8, 16, 32]})))
    with monkeypatch.context() as patched:
        patched.setattr(set_change, "_move_missing", die)
        assert expset("extend", str(set_dir), str(plan_file), "--yes").exit_code == 130
    assert (set_dir / set_change.PENDING).is_dir()
    result = expset("remove", str(set_dir), "1B_rank8", "--yes")
    assert result.exit_code == 0, result.stderr
    record = load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")
    assert record["plan"]["vary"]["lora_rank"] == [8, 16, 32] and record["removed"] == ["1B_rank8"]
    assert [entry["change"] for entry in record["history"]] == ["extended", "removed"]
    assert (set_dir / "3B_rank32").is_dir() and not (set_dir / "1B_rank8").exists()


def test_an_extension_planned_before_a_removal_is_refused_when_written(site, set_dir):
    import datetime as dt

    from expset.core.plan import parse_plan
    from expset.errors import BusyError
    from expset.reshape import plan_extension, write_extension

    plan = parse_plan(
        site.plan(vary={**site.plan()["vary"], "lora_rank": [8, 16, 32]}), today=dt.date.today(), default_author="A"
    )
    planned = plan_extension(set_dir, plan, today=dt.date.today(), author="A")  # then waits at its prompt
    assert expset("remove", str(set_dir), "1B_rank8", "--yes").exit_code == 0
    with pytest.raises(BusyError, match="changed since this command read it"):
        write_extension(set_dir, planned, "test")
    assert not (set_dir / "1B_rank32").exists()
    assert load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")["removed"] == ["1B_rank8"]


def test_a_run_folder_that_is_a_link_is_refused_and_its_target_kept(set_dir, tmp_path):
    elsewhere = tmp_path / "other-disk" / "3B_rank16"
    shutil.move(set_dir / "3B_rank16", elsewhere.parent.mkdir(parents=True) or elsewhere)
    (set_dir / "3B_rank16").symlink_to(elsewhere)
    result = expset("remove", str(set_dir), "3B_rank16", "--yes")
    assert result.exit_code == 2
    assert "3B_rank16 is a symbolic link" in result.stderr and "nothing was removed" in result.stderr
    assert (elsewhere / "run.yaml").is_file() and (set_dir / "3B_rank16").is_symlink()


def test_a_path_to_a_run_of_another_set_is_refused(set_dir, tmp_path):
    other = tmp_path / "other-set" / "1B_rank8"
    other.mkdir(parents=True)
    result = expset("remove", str(set_dir), str(other), "--yes")
    assert result.exit_code == 2
    assert f"{other}: not a run folder of {set_dir}" in result.stderr
    assert (set_dir / "1B_rank8").is_dir()
    assert expset("remove", str(set_dir), str(set_dir / "1B_rank8"), "--yes").exit_code == 0


def test_files_that_cannot_be_deleted_are_named_and_do_not_block_the_next_change(set_dir, monkeypatch):
    from expset.fs import set_change

    # A file the kernel refuses to delete (immutable, another owner's) cannot be made on every test machine
    # by its root user: the deletion is left undone instead, as such a refusal leaves it.
    monkeypatch.setattr(set_change.shutil, "rmtree", lambda path, ignore_errors=False: None)
    result = expset("remove", str(set_dir), "1B_rank8", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "some of their files could not be deleted: they are in" in result.stderr
    [left] = [path for path in set_dir.iterdir() if path.name.startswith(set_change.UNDELETED)]
    assert (left / "removed" / "1B_rank8" / "run.yaml").is_file()
    monkeypatch.undo()
    assert expset("remove", str(set_dir), "1B_rank16", "--yes").exit_code == 0


def test_cancel_reaches_the_jobs_of_a_run_whose_folder_was_deleted(set_dir, slurm):
    assert expset("submit", str(set_dir), "--runs", "1B_rank8", "--no-check").exit_code == 0
    shutil.rmtree(set_dir / "1B_rank8")
    result = expset("cancel", str(set_dir), "--yes")
    assert result.exit_code == 0, result.stderr
    assert {job.state for job in slurm.jobs.values()} == {"CANCELLED"}


def test_a_record_with_removed_runs_is_one_an_older_expset_refuses(set_dir):
    expset("remove", str(set_dir), "1B_rank8", "--yes")
    assert load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")["format"] == 2

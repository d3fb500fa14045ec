"""``expset clean`` on real files, with a stand-in for SLURM's commands deciding which jobs are active: what
each ``--checkpoints`` choice removes, the bytes freed against the preview, refusals, the record, Ctrl-C.
The refusal of a run whose job really runs is proven on the test cluster (e2e/test_clean_on_the_cluster.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_submit_with_stand_in import finish_every_job

from expset.clean import clean_set
from expset.clean_record import read_cleaned
from expset.core.cleaning import CheckpointChoice
from expset.core.layout import CLEANED_RECORD, job_record
from expset.errors import LinkError
from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.slurm.runner import Completed
from expset.status import set_status
from expset.submit import submit_set

from site_helpers import expset

RUNS = ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"]


def write_epoch(run_dir: Path, epoch: int, size: int = 4000) -> Path:
    """What torchtune leaves after an epoch: adapter files and merged weights, real bytes."""
    folder = run_dir / f"epoch_{epoch}"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(os.urandom(size))
    (folder / "adapter_config.json").write_text('{"r": 8}')
    (folder / "model-00001-of-00001.safetensors").write_bytes(os.urandom(3 * size + epoch))
    return folder


def tree_bytes(set_dir: Path) -> int:
    """The bytes of every file in the set's run folders (not its own records), links not followed."""
    total = 0
    for root, _, files in os.walk(set_dir):
        if ".expset" not in Path(root).relative_to(set_dir).parts:
            total += sum(os.lstat(os.path.join(root, name)).st_size for name in files)
    return total


def epochs_of(run_dir: Path) -> list[str]:
    return sorted(path.name for path in run_dir.iterdir() if path.name.startswith(("epoch_", ".epoch_")))


@pytest.fixture
def finished(site, slurm):
    """A four-run set whose every job completed, two epochs on disk per run, each evaluation succeeded."""
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    finish_every_job(set_dir, slurm)
    for run in RUNS:
        write_epoch(set_dir / run, 0)
        write_epoch(set_dir / run, 1)
    return set_dir


def clean(set_dir, slurm, choice, runs=None, confirm=lambda report: True, **options):
    return clean_set(load_set(set_dir), set_dir, SlurmClient(slurm), runs, CheckpointChoice(choice), confirm, **options)


def fail_evaluation(set_dir: Path, run: str, task: str, epoch: int) -> None:
    """Turn the record of ``run``'s evaluation of ``task`` at ``epoch`` into a failed one."""
    [record] = (set_dir / run / "evaluations" / task).glob(f"result_epoch_{epoch}.job*.json")
    record.write_text(json.dumps({**json.loads(record.read_text()), "exit_code": 1, "status": "error"}))


def test_the_bytes_freed_are_the_bytes_previewed(finished, slurm):
    previewed = []
    before = tree_bytes(finished)
    report = clean(finished, slurm, "all", confirm=lambda report: previewed.append(report.size) or True)
    assert previewed == [report.size] and report.size > 4 * 2 * 16000
    assert before - tree_bytes(finished) == report.size
    assert sum(line["bytes"] for line in read_cleaned(finished)) == report.size


def test_except_last_keeps_each_runs_highest_epoch(finished, slurm):
    write_epoch(finished / "1B_rank8", 2)
    clean(finished, slurm, "except-last")
    assert epochs_of(finished / "1B_rank8") == ["epoch_2"]
    assert all(epochs_of(finished / run) == ["epoch_1"] for run in RUNS[1:])


def test_except_evaluated_removes_only_epochs_no_evaluation_succeeded_on(finished, slurm):
    fail_evaluation(finished, "1B_rank8", "capitalization", 0)  # epoch 0 of this run has no success left
    report = clean(finished, slurm, "except-evaluated")
    assert [(removal.run, removal.folder) for removal in report.removed] == [("1B_rank8", "epoch_0")]
    assert epochs_of(finished / "1B_rank8") == ["epoch_1"]
    assert all(epochs_of(finished / run) == ["epoch_0", "epoch_1"] for run in RUNS[1:])


def test_all_removes_every_epoch_of_the_runs_and_their_canaries(finished, slurm):
    write_epoch(finished / "1B_rank8" / "canary", 0)
    clean(finished, slurm, "all")
    assert all(epochs_of(finished / run) == [] for run in RUNS)
    assert epochs_of(finished / "1B_rank8" / "canary") == []
    folders = sorted((line["run"], line["folder"]) for line in read_cleaned(finished))
    assert ("1B_rank8", "canary/epoch_0") in folders and len(folders) == 9


def test_runs_limits_the_clean_to_the_runs_named(finished, slurm):
    result = expset("clean", str(finished), "--checkpoints", "all", "--runs", "1B_rank8,3B_rank16", "--yes")
    assert result.exit_code == 0, result.stderr
    assert epochs_of(finished / "1B_rank8") == epochs_of(finished / "3B_rank16") == []
    assert epochs_of(finished / "1B_rank16") == epochs_of(finished / "3B_rank8") == ["epoch_0", "epoch_1"]


def test_the_preview_shows_each_runs_folders_files_and_bytes(finished, slurm):
    result = expset("clean", str(finished), "--checkpoints", "except-last", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "1B_rank8: epoch_0 — 3 file(s), 16.0 kB; keeps epoch_1" in result.stderr
    assert "4 checkpoint folder(s) of 4 run(s): 64.0 kB to free" in result.stderr
    assert "removed 4 checkpoint folder(s) of 4 run(s), 64.0 kB freed" in result.stderr


def test_a_declined_prompt_removes_nothing(finished, slurm, monkeypatch):
    from expset.cli import prompts

    monkeypatch.setattr(prompts, "require_terminal", lambda what, hint: None)
    asked = []
    monkeypatch.setattr(prompts, "ask_confirm", lambda message, default=True: asked.append(message) or False)
    before = tree_bytes(finished)
    result = expset("clean", str(finished), "--checkpoints", "all")
    assert result.exit_code == 1 and "nothing was removed" in result.stderr
    assert asked == ["Remove these 8 checkpoint folder(s), freeing 128.1 kB?"]
    assert tree_bytes(finished) == before and not (finished / CLEANED_RECORD).exists()


def test_without_a_terminal_or_yes_nothing_is_removed(finished, slurm):
    result = expset("clean", str(finished), "--checkpoints", "all")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert epochs_of(finished / "1B_rank8") == ["epoch_0", "epoch_1"]


def test_a_second_clean_finds_nothing_more_to_free(finished, slurm):
    assert expset("clean", str(finished), "--checkpoints", "except-last", "--yes").exit_code == 0
    again = expset("clean", str(finished), "--checkpoints", "except-last", "--yes")
    assert again.exit_code == 0 and "nothing to free" in again.stderr
    assert len(read_cleaned(finished)) == 4


def test_the_choice_must_be_named(finished, slurm):
    missing = expset("clean", str(finished), "--yes")
    assert missing.exit_code == 2 and "--checkpoints" in missing.stderr
    wrong = expset("clean", str(finished), "--checkpoints", "old", "--yes")
    assert wrong.exit_code == 2 and "--checkpoints old: not a choice clean knows" in wrong.stderr
    assert epochs_of(finished / "1B_rank8") == ["epoch_0", "epoch_1"]


def test_ctrl_c_between_two_folders_leaves_each_epoch_whole_or_gone_and_recorded(finished, slurm):
    def interrupt(removal):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clean(finished, slurm, "all", on_removed=interrupt)
    [line] = read_cleaned(finished)
    assert (line["run"], line["folder"]) == ("1B_rank8", "epoch_0")
    assert epochs_of(finished / "1B_rank8") == ["epoch_1"]
    assert all(epochs_of(finished / run) == ["epoch_0", "epoch_1"] for run in RUNS[1:])
    assert sorted(path.name for path in (finished / "1B_rank8" / "epoch_1").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "model-00001-of-00001.safetensors",
    ]
    clean(finished, slurm, "all")
    assert all(epochs_of(finished / run) == [] for run in RUNS) and len(read_cleaned(finished)) == 8


def test_ctrl_c_while_a_folder_is_deleted_leaves_it_hidden_and_recorded_and_the_next_clean_finishes_it(
    finished, slurm, monkeypatch
):
    from expset.fs import inside

    real_remove_tree = inside.remove_tree

    def interrupted_rmtree(parent, name):
        os.unlink(os.path.join(name, "adapter_config.json"), dir_fd=parent)  # half-way through its files
        raise KeyboardInterrupt

    monkeypatch.setattr(inside, "remove_tree", interrupted_rmtree)
    with pytest.raises(KeyboardInterrupt):
        clean(finished, slurm, "all", runs=["1B_rank8"])
    [hidden] = epochs_of(finished / "1B_rank8")[:1]
    assert hidden.startswith(".epoch_0.removing-") and epochs_of(finished / "1B_rank8")[1] == "epoch_1"
    assert [line["folder"] for line in read_cleaned(finished)] == ["epoch_0"]
    status = set_status(load_set(finished), finished, SlurmClient(slurm))
    assert status.runs[0].epochs_on_disk == [1] and status.runs[0].epochs_cleaned == [0]
    monkeypatch.setattr(inside, "remove_tree", real_remove_tree)
    report = clean(finished, slurm, "all", runs=["1B_rank8"])
    assert [(removal.folder, removal.hidden is not None) for removal in report.removed] == [
        ("epoch_0", True),
        ("epoch_1", False),
    ]
    assert epochs_of(finished / "1B_rank8") == []
    assert [line["folder"] for line in read_cleaned(finished)] == ["epoch_0", "epoch_1"]  # epoch_0 recorded once


def test_a_checkpoint_folder_that_is_a_link_is_refused_and_nothing_is_removed(finished, slurm, tmp_path):
    elsewhere = write_epoch(tmp_path / "elsewhere", 0)
    os.rename(finished / "3B_rank8" / "epoch_0", tmp_path / "moved")
    (finished / "3B_rank8" / "epoch_0").symlink_to(elsewhere)
    with pytest.raises(LinkError, match="3B_rank8/epoch_0 is a symbolic link"):
        clean(finished, slurm, "all")
    assert len(list(elsewhere.iterdir())) == 3
    assert epochs_of(finished / "1B_rank8") == ["epoch_0", "epoch_1"]
    result = expset("clean", str(finished), "--checkpoints", "all", "--yes")
    assert result.exit_code == 2 and "nothing was removed" in result.stderr


def test_a_run_with_a_job_pending_or_running_refuses_the_whole_clean(finished, slurm):
    evaluation = next(job for job in slurm.jobs.values() if ":3B_rank16" in job.comment and "evaluate/" in job.comment)
    evaluation.state = "RUNNING"
    result = expset("clean", str(finished), "--checkpoints", "all", "--yes")
    assert result.exit_code == 75, result.stderr
    assert (
        "3B_rank16 has jobs pending or running (or in a state SLURM cannot tell); nothing was removed" in result.stderr
    )
    assert all(epochs_of(finished / run) == ["epoch_0", "epoch_1"] for run in RUNS)
    others = expset("clean", str(finished), "--checkpoints", "all", "--runs", "1B_rank8", "--yes")
    assert others.exit_code == 0 and epochs_of(finished / "1B_rank8") == []


def test_when_slurm_cannot_be_asked_nothing_is_removed(finished, slurm):
    slurm.on_squeue = lambda argv: Completed(tuple(argv), 1, "", "slurm_load_jobs error: Unable to contact controller")
    result = expset("clean", str(finished), "--checkpoints", "all", "--yes")
    assert (
        result.exit_code == 75 and "squeue did not answer" in result.stderr and "nothing was removed" in result.stderr
    )
    assert all(epochs_of(finished / run) == ["epoch_0", "epoch_1"] for run in RUNS)


def test_an_unfinished_fine_tune_keeps_the_epoch_it_resumes_from(finished, slurm):
    fine_tune = next(job for job in slurm.jobs.values() if ":finetune:1B_rank8" in job.comment)
    record = finished / "1B_rank8" / job_record("finetune", fine_tune.job_id)
    record.write_text(json.dumps({"job": fine_tune.job_id, "exit_code": 1}))
    fine_tune.state = "TIMEOUT"
    for task in ("capitalization", "arithmetic"):
        for found in (finished / "1B_rank8" / "evaluations" / task).glob("result_epoch_*.json"):
            found.unlink()  # its evaluations never ran
    write_epoch(finished / "1B_rank8", 2)
    report = clean(finished, slurm, "except-evaluated", runs=["1B_rank8"])
    assert [removal.folder for removal in report.removed] == ["epoch_0", "epoch_1"]
    assert epochs_of(finished / "1B_rank8") == ["epoch_2"]
    assert report.notes == ["1B_rank8: epoch_2 kept: its fine-tune has not finished and resumes from it"]
    report = clean(finished, slurm, "all", runs=["1B_rank8"], confirm=lambda report: False)
    assert report.notes[-1].endswith("submitted again, it starts over from the first epoch")


def test_status_of_a_cleaned_set_is_complete_and_tells_cleaned_epochs_from_missing_ones(finished, slurm, monkeypatch):
    import io

    from rich.console import Console

    from expset.cli import status_view

    assert expset("clean", str(finished), "--checkpoints", "except-last", "--yes").exit_code == 0
    (finished / "3B_rank16" / "epoch_1").rename(finished / "3B_rank16" / "moved-away")  # missing, not cleaned
    status = set_status(load_set(finished), finished, SlurmClient(slurm))
    assert {run.progress.value for run in status.runs} == {"complete"}
    assert [(run.epochs_on_disk, run.epochs_cleaned) for run in status.runs] == [([1], [0])] * 3 + [([], [0])]
    screen = io.StringIO()
    monkeypatch.setattr(status_view, "stdout", lambda: Console(file=screen, width=200))
    assert expset("status", str(finished)).exit_code == 0
    assert "epoch_1 (epoch_0 cleaned)" in screen.getvalue() and "│ - (epoch_0 cleaned)" in screen.getvalue()


def test_a_set_with_no_checkpoints_has_nothing_to_free(site, slurm):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    result = expset("clean", str(set_dir), "--checkpoints", "all")
    assert result.exit_code == 0 and "no checkpoint of the set to remove; nothing to free" in result.stderr


def test_a_failed_evaluation_of_a_cleaned_checkpoint_is_not_submitted_again(finished, slurm):
    fail_evaluation(finished, "1B_rank8", "capitalization", 0)
    [job] = [job for job in slurm.jobs.values() if job.comment.endswith(":evaluate/capitalization/epoch_0:1B_rank8")]
    job.state = "FAILED"
    clean(finished, slurm, "except-evaluated")
    sbatch_calls = sum(call[0] == "sbatch" for call in slurm.calls)
    report = submit_set(load_set(finished), finished, SlurmClient(slurm), resubmit=True)
    assert report.submitted == {} and sum(call[0] == "sbatch" for call in slurm.calls) == sbatch_calls
    assert (
        "1B_rank8: evaluate/capitalization/epoch_0 not submitted: `expset clean` removed the checkpoint it evaluates"
        in report.notes
    )

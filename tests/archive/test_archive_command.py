"""``expset archive``: what goes in, what is left out and said so, the manifest, and what it refuses."""

from __future__ import annotations

import hashlib
import os

import pytest

from expset.cli import prompts

from archive.archived_sets import (
    ADAPTER_BYTES,
    add_epochs,
    link_logs_elsewhere,
    manifest_of,
    members,
    record_evaluation,
    tree,
)
from site_helpers import expset

SET = "scaffold-test_2025-10-18"


@pytest.fixture
def set_dir(site):
    made = site.create()
    assert expset("scaffold", str(made)).exit_code == 0
    add_epochs(made / "1B_rank8", [0, 1])
    add_epochs(made / "1B_rank16", [0, 1], merged=False)
    record_evaluation(made / "1B_rank8", "capitalization", 0, "11")
    record_evaluation(made / "1B_rank8", "capitalization", 1, "12", status="error")
    record_evaluation(made / "1B_rank16", "capitalization", 1, "13")
    (made / "1B_rank8" / "logs" / "finetune-11.out").write_text("step 1 loss 2.0\n")
    (made / "report").mkdir()
    (made / "report" / "results.csv").write_text("run,task,value\n1B_rank8,capitalization,0.5\n")
    return made


def archive(set_dir, out, *args):
    return expset("archive", str(set_dir), "--to", str(out), "--yes", *args)


def archived_checkpoints(archive_path) -> set[str]:
    return {
        name.split("/", 1)[1]
        for name, data in members(archive_path).items()
        if data is not None and ("/epoch_" in name or "/recipe_state/" in name)
    }


def test_the_manifest_lists_every_file_of_the_set_with_its_size_and_sha256(set_dir, out):
    result = archive(set_dir, out, "--checkpoints", "all")
    assert result.exit_code == 0, result.stderr
    path = out / f"{SET}.tar.gz"
    assert result.stdout == f"{path}\n"
    on_disk = {relative: digest for relative, digest in tree(set_dir).items() if not relative.endswith("/")}
    listed = {entry["path"]: entry for entry in manifest_of(path)["files"]}
    assert {relative: entry["sha256"] for relative, entry in listed.items()} == on_disk
    for relative, entry in listed.items():
        assert entry["size"] == (set_dir / relative).stat().st_size
    stored = members(path)
    for relative, entry in listed.items():
        assert hashlib.sha256(stored[f"{SET}/{relative}"]).hexdigest() == entry["sha256"]  # type: ignore[arg-type]


def test_by_default_checkpoints_are_left_out_and_the_size_of_their_adapters_is_said(set_dir, out):
    result = archive(set_dir, out)
    assert result.exit_code == 0, result.stderr
    assert archived_checkpoints(out / f"{SET}.tar.gz") == set()
    assert "left out (--checkpoints none): 4 checkpoint folder(s) of 2 run(s)" in result.stderr
    assert 4 * ADAPTER_BYTES == 12_000
    assert "the LoRA adapters alone are 12 kB; small enough to keep" in result.stderr
    names = members(out / f"{SET}.tar.gz")
    assert f"{SET}/1B_rank8/epoch_0" not in names  # no empty checkpoint folder either
    left_out = {item["folder"] for item in manifest_of(out / f"{SET}.tar.gz")["left_out"]}
    assert left_out == {"1B_rank8/epoch_0", "1B_rank8/epoch_1", "1B_rank16/epoch_0", "1B_rank16/epoch_1"}


def test_the_plans_records_scripts_logs_evaluation_records_and_report_are_always_in(set_dir, out):
    assert archive(set_dir, out).exit_code == 0
    names = set(members(out / f"{SET}.tar.gz"))
    for relative in (
        "expset.yaml",
        "README.md",
        "runs.csv",
        ".expset/generated.json",
        "1B_rank8/finetune.yaml",
        "1B_rank8/finetune.slurm",
        "1B_rank8/logs/finetune-11.out",
        "1B_rank8/evaluations/capitalization/result_epoch_0.job11.json",
        "report/results.csv",
    ):
        assert f"{SET}/{relative}" in names, relative


def test_last_keeps_each_runs_highest_epoch_and_its_canarys(set_dir, out):
    add_epochs(set_dir / "1B_rank8" / "canary", [0])
    assert archive(set_dir, out, "--checkpoints", "last").exit_code == 0
    folders = {path.rsplit("/", 1)[0] for path in archived_checkpoints(out / f"{SET}.tar.gz")}
    assert folders == {"1B_rank8/epoch_1", "1B_rank16/epoch_1", "1B_rank8/canary/epoch_0"}


def test_evaluated_keeps_only_the_epochs_with_a_successful_evaluation(set_dir, out):
    assert archive(set_dir, out, "--checkpoints", "evaluated").exit_code == 0
    folders = {path.rsplit("/", 1)[0] for path in archived_checkpoints(out / f"{SET}.tar.gz")}
    assert folders == {"1B_rank8/epoch_0", "1B_rank16/epoch_1"}  # 1B_rank8's epoch 1 evaluation failed


def test_all_keeps_every_epoch_and_the_recipe_state(set_dir, out):
    (set_dir / "1B_rank8" / "recipe_state").mkdir()
    (set_dir / "1B_rank8" / "recipe_state" / "recipe_state.pt").write_bytes(b"optimizer")
    result = archive(set_dir, out, "--checkpoints", "all")
    assert result.exit_code == 0
    assert "1B_rank8/recipe_state/recipe_state.pt" in archived_checkpoints(out / f"{SET}.tar.gz")
    assert "left out" not in result.stderr


def test_recipe_state_is_left_out_unless_all_checkpoints_go_in(set_dir, out):
    (set_dir / "1B_rank8" / "recipe_state").mkdir()
    (set_dir / "1B_rank8" / "recipe_state" / "recipe_state.pt").write_bytes(b"optimizer")
    assert archive(set_dir, out, "--checkpoints", "last").exit_code == 0
    assert not any("recipe_state" in name for name in members(out / f"{SET}.tar.gz"))


def test_the_preview_counts_what_goes_in_by_kind_with_its_bytes(set_dir, out):
    result = archive(set_dir, out)
    assert f"archive of {SET} → {out / f'{SET}.tar.gz'}" in result.stderr
    for kind in ("configs and scripts", "evaluation logs and records", "report", "set records and plans", "total"):
        assert f"  {kind}" in result.stderr
    assert "archived and verified" in result.stderr


def test_an_unknown_checkpoints_choice_is_refused_in_one_line_naming_the_flag(set_dir, out):
    result = archive(set_dir, out, "--checkpoints", "best")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: --checkpoints best: not a choice"
    assert os.listdir(out) == []


def test_a_run_that_is_not_in_the_set_is_refused(set_dir, out):
    result = archive(set_dir, out, "7B_rank8")
    assert result.exit_code == 2 and "RUN 7B_rank8: not a run of set" in result.stderr
    assert os.listdir(out) == []


def test_a_missing_target_folder_is_refused(set_dir, tmp_path):
    result = archive(set_dir, tmp_path / "nowhere")
    assert result.exit_code == 2 and "--to" in result.stderr and "no such folder" in result.stderr


def test_a_target_folder_inside_the_set_is_refused(set_dir):
    result = archive(set_dir, set_dir / "report")
    assert result.exit_code == 2 and "inside the set" in result.stderr


def test_archiving_again_is_refused_and_the_archive_is_left_as_it_was(set_dir, out):
    assert archive(set_dir, out).exit_code == 0
    before = (out / f"{SET}.tar.gz").read_bytes()
    again = archive(set_dir, out)
    assert again.exit_code == 3
    assert "already exists; nothing was written" in again.stderr
    assert (out / f"{SET}.tar.gz").read_bytes() == before and os.listdir(out) == [f"{SET}.tar.gz"]


def test_without_a_terminal_and_without_yes_nothing_is_written(set_dir, out):
    result = expset("archive", str(set_dir), "--to", str(out))
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert os.listdir(out) == []


def test_declining_the_question_writes_nothing(set_dir, out, monkeypatch):
    monkeypatch.setattr(prompts, "require_terminal", lambda what, hint: None)
    asked = []
    monkeypatch.setattr(prompts, "ask_confirm", lambda message, default=True: asked.append(message) or False)
    result = expset("archive", str(set_dir), "--to", str(out))
    assert result.exit_code == 1 and asked == ["Write 1 archive(s)?"]
    assert os.listdir(out) == []


def test_ctrl_c_while_writing_leaves_no_partial_archive(set_dir, out, monkeypatch):
    from expset import archive as archiving

    read = archiving._Hashing.read
    calls = []

    def interrupted(self, size=-1):
        calls.append(size)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return read(self, size)

    monkeypatch.setattr(archiving._Hashing, "read", interrupted)
    result = archive(set_dir, out)
    assert result.exit_code == 130 and "no partial archive was left behind" in result.stderr
    assert os.listdir(out) == []


def test_a_run_archive_holds_the_sets_records_and_that_run_alone(set_dir, out):
    result = archive(set_dir, out, "1B_rank8", "3B_rank8")
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(out)) == [f"{SET}.1B_rank8.tar.gz", f"{SET}.3B_rank8.tar.gz"]
    names = set(members(out / f"{SET}.1B_rank8.tar.gz"))
    tops = {name.split("/")[1] for name in names if name.count("/") >= 1}
    assert tops == {".expset", "README.md", "runs_plan.md", "expset.yaml", "runs.csv", "report", "1B_rank8"}
    assert manifest_of(out / f"{SET}.1B_rank8.tar.gz")["runs"] == ["1B_rank8"]


def test_a_link_to_nothing_is_left_out_and_named(set_dir, out):
    os.symlink("/nonexistent/epoch_9", set_dir / "1B_rank8" / "notes.txt")
    result = archive(set_dir, out)
    assert result.exit_code == 0
    assert "left out 1B_rank8/notes.txt: a link to nothing" in result.stderr


def test_a_linked_logs_folder_is_archived_as_what_it_holds(set_dir, out, tmp_path):
    elsewhere = tmp_path / "scratch-logs"
    link_logs_elsewhere(set_dir / "3B_rank8", elsewhere)
    assert archive(set_dir, out).exit_code == 0
    assert members(out / f"{SET}.tar.gz")[f"{SET}/3B_rank8/logs/finetune-99.out"] == b"loss 1.0\n"


def test_gnu_tar_extracts_the_archive_checkpoints_included(set_dir, out, tmp_path):
    import subprocess

    assert archive(set_dir, out, "--checkpoints", "all").exit_code == 0
    extracted = tmp_path / "by-tar"
    extracted.mkdir()
    subprocess.run(["tar", "-xzf", str(out / f"{SET}.tar.gz"), "-C", str(extracted)], check=True)
    found = {path: digest for path, digest in tree(extracted / SET).items() if "archive-manifest" not in path}
    assert found == tree(set_dir)


def test_archiving_asks_slurm_nothing(set_dir, out, slurm):
    assert expset("submit", str(set_dir), "--no-check").exit_code == 0
    asked = len(slurm.calls)
    assert archive(set_dir, out).exit_code == 0
    assert len(slurm.calls) == asked

"""The pure rules of an archive: which files are checkpoints, what each choice keeps, safe names, the manifest."""

from __future__ import annotations

import pytest

from expset.core.archive_members import (
    Checkpoint,
    Checkpoints,
    LeftOut,
    Manifest,
    ManifestFile,
    checkpoint_of,
    human_size,
    member_problem,
    parse_manifest,
    select_files,
)
from expset.errors import ArchiveError

RUNS = frozenset({"r8", "r16"})
FILES = [
    ("expset.yaml", 100),
    ("r8/finetune.yaml", 200),
    ("r8/epoch_0/adapter_model.safetensors", 1000),
    ("r8/epoch_0/adapter_config.json", 10),
    ("r8/epoch_0/model-00001-of-00001.safetensors", 50000),
    ("r8/epoch_1/adapter_model.safetensors", 1000),
    ("r8/recipe_state/recipe_state.pt", 3000),
    ("r8/canary/epoch_0/adapter_model.safetensors", 1000),
    ("r16/epoch_0/adapter_model.safetensors", 1000),
    ("notes/epoch_0/x.txt", 5),  # not a run: not a checkpoint
]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("r8/epoch_3/adapter_model.safetensors", Checkpoint("r8", "r8/epoch_3", 3)),
        ("r8/canary/epoch_0/adapter_config.json", Checkpoint("r8/canary", "r8/canary/epoch_0", 0)),
        ("r8/recipe_state/recipe_state.pt", Checkpoint("r8", "r8/recipe_state", None)),
        ("r8/logs/epoch_0.txt", None),
        ("r8/epoch_x/file", None),
        ("other/epoch_0/file", None),
        ("r8/evaluations/echo/epoch_0-5.out", None),
    ],
)
def test_a_checkpoint_is_an_epoch_folder_or_the_recipe_state_of_a_run_or_its_canary(path, expected):
    assert checkpoint_of(path, RUNS) == expected


def kept(choice: Checkpoints, evaluated=None) -> set[str]:
    selection = select_files(FILES, RUNS, choice, evaluated or {})
    return {path for path in selection.kept if checkpoint_of(path, RUNS)}


def test_none_keeps_no_checkpoint_but_everything_else():
    selection = select_files(FILES, RUNS, Checkpoints.NONE, {})
    assert set(selection.kept) == {"expset.yaml", "r8/finetune.yaml", "notes/epoch_0/x.txt"}


def test_last_keeps_the_highest_epoch_of_each_run_and_canary():
    assert kept(Checkpoints.LAST) == {
        "r8/epoch_1/adapter_model.safetensors",
        "r8/canary/epoch_0/adapter_model.safetensors",
        "r16/epoch_0/adapter_model.safetensors",
    }


def test_evaluated_keeps_the_epochs_evaluated_with_success():
    assert kept(Checkpoints.EVALUATED, {"r8": {0}}) == {
        "r8/epoch_0/adapter_model.safetensors",
        "r8/epoch_0/adapter_config.json",
        "r8/epoch_0/model-00001-of-00001.safetensors",
    }


def test_all_keeps_every_checkpoint():
    assert kept(Checkpoints.ALL) == {path for path, _ in FILES if checkpoint_of(path, RUNS)}


def test_what_is_left_out_is_counted_by_folder_with_the_adapters_bytes():
    selection = select_files(FILES, RUNS, Checkpoints.LAST, {})
    assert selection.left_out["r8/epoch_0"] == LeftOut("r8/epoch_0", files=3, size=51010, adapter_size=1010)
    assert selection.left_out["r8/recipe_state"].adapter_size == 0
    assert selection.left_out_adapter_size == 1010


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("s/ok/file.txt", None),
        ("s", None),
        ("/etc/passwd", "is an absolute path"),
        ("s/../../etc/passwd", "climbs out with '..'"),
        ("s/a/../b", "climbs out with '..'"),
        ("t/file", "is outside the set's folder s/"),
        ("s//file", "is not a plain relative path"),
        ("s/./file", "is not a plain relative path"),
        ("s/a\\..\\b", "is not a plain relative path"),
        ("", "is not a plain relative path"),
    ],
)
def test_member_names_must_stay_inside_the_sets_folder(name, problem):
    assert member_problem(name, "s") == problem


def manifest() -> Manifest:
    return Manifest(
        set_name="s",
        runs=("r8",),
        checkpoints=Checkpoints.LAST,
        files=(ManifestFile("expset.yaml", 3, "ab" * 32),),
        folders=("r8",),
        left_out=(LeftOut("r8/epoch_0", 1, 10, 10),),
        created="2026-01-01T00:00:00+00:00",
        version="0.1.0",
    )


def test_the_manifest_reads_back_as_written():
    assert parse_manifest(manifest().to_data()) == manifest()


def test_a_manifest_of_another_format_version_is_refused_saying_which():
    data = manifest().to_data() | {"format_version": 2}
    with pytest.raises(ArchiveError, match="format version 2"):
        parse_manifest(data)


def test_a_damaged_manifest_is_refused():
    data = manifest().to_data()
    del data["files"]
    with pytest.raises(ArchiveError, match="damaged"):
        parse_manifest(data)


@pytest.mark.parametrize(
    ("size", "text"), [(512, "512 bytes"), (4_000, "4.0 kB"), (24_000_000, "24 MB"), (1_300_000_000, "1.3 GB")]
)
def test_sizes_are_said_in_decimal_units(size, text):
    assert human_size(size) == text

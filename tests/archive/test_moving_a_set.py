"""A set archived on one cluster, restored on another, scaffolded with that cluster's profile, and checked
against the data it was first scaffolded with."""

from __future__ import annotations

import json

import pytest

from site_helpers import Site, expset


@pytest.fixture
def moved(site, slurm, tmp_path, monkeypatch):
    """The set made on ``site``, archived, and restored on a second cluster with its own folders and profile."""
    made = site.create()
    assert expset("scaffold", str(made)).exit_code == 0
    archives = tmp_path / "archives"
    archives.mkdir()
    assert expset("archive", str(made), "--to", str(archives), "--yes").exit_code == 0
    other = tmp_path / "other-cluster"
    other.mkdir()
    cluster = Site(other)
    (cluster.data / "words.json").write_bytes((site.data / "words.json").read_bytes())
    cluster.profile.write_text(
        cluster.profile.read_text()
        .replace('account = "lab"', 'account = "lab2"')
        .replace('partition = "gpu"', 'partition = "debug"')
    )
    monkeypatch.setenv("EXPSET_PROFILE", str(cluster.profile))
    [archive] = archives.iterdir()
    assert expset("restore", str(archive), "--root", str(other)).exit_code == 0
    return cluster, other / made.name


def test_a_moved_set_is_scaffolded_with_the_new_cluster_s_folders_and_slurm_settings(moved):
    cluster, set_dir = moved
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0, result.stderr
    script = (set_dir / "1B_rank8" / "finetune.slurm").read_text()
    assert "#SBATCH --account=lab2" in script and "#SBATCH --partition=debug" in script
    assert f"run_dir={set_dir / '1B_rank8'}" in script
    setup = (set_dir / "1B_rank8" / "setup_finetune.yaml").read_text()
    assert str(cluster.data / "words.json") in setup and str(cluster.models) in setup


def test_identical_data_on_the_new_cluster_checks_clean(moved):
    _, set_dir = moved
    assert expset("scaffold", str(set_dir)).exit_code == 0
    result = expset("check", str(set_dir))
    assert result.exit_code == 0, result.stdout
    recorded = json.loads((set_dir / ".expset" / "inputs.json").read_text())
    assert recorded  # the record made on the first cluster came along, and is what the data is checked against


def test_data_that_differs_on_the_new_cluster_is_named_and_submit_refuses(moved, slurm):
    cluster, set_dir = moved
    (cluster.data / "words.json").write_text(json.dumps([{"input": "hi", "output": "Hi"}]))
    assert expset("scaffold", str(set_dir)).exit_code == 0
    result = expset("check", str(set_dir))
    assert result.exit_code == 2
    assert f"{cluster.data / 'words.json'} differs from the file the set was scaffolded with" in result.stdout
    assert expset("submit", str(set_dir)).exit_code == 2
    assert not slurm.jobs


def test_a_set_archived_before_its_inputs_were_recorded_says_they_are_recorded_on_the_new_cluster(
    site, slurm, tmp_path, monkeypatch
):
    made = site.create()  # never scaffolded where it was made: no record of its data
    archives = tmp_path / "archives"
    archives.mkdir()
    assert expset("archive", str(made), "--to", str(archives), "--yes").exit_code == 0
    other = tmp_path / "other-cluster"
    other.mkdir()
    cluster = Site(other)
    monkeypatch.setenv("EXPSET_PROFILE", str(cluster.profile))
    [archive] = archives.iterdir()
    assert expset("restore", str(archive), "--root", str(other)).exit_code == 0
    result = expset("scaffold", str(other / made.name))
    assert result.exit_code == 0, result.stderr
    assert "recorded here for the first time — this set was restored from an archive" in result.stderr

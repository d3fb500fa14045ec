"""The data and task files a set reads are recorded at its first scaffold, and that record stays the reference:
a set moved to another cluster checks clean when the data there is byte-identical, and a changed byte is a
problem that ``submit`` refuses on, until ``check --accept-inputs`` records the change on purpose."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from expset.core.layout import INPUT_HASHES, INPUTS_RECORD

from site_helpers import Site, expset


@pytest.fixture
def set_dir(site, slurm):
    created = site.create()
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def recorded(set_dir):
    return json.loads((set_dir / INPUTS_RECORD).read_text())


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def input_problems(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if "differs from the file the set was scaffolded with" in line]


@pytest.fixture
def moved(set_dir, tmp_path, monkeypatch):
    """The set copied to another cluster: its own data and models folders (the same bytes), its own profile."""
    other = tmp_path / "other-cluster"
    other.mkdir()
    cluster = Site(other)
    monkeypatch.setenv("EXPSET_PROFILE", str(cluster.profile))
    copy = other / set_dir.name
    shutil.copytree(set_dir, copy, symlinks=True)
    return cluster, copy


def test_scaffold_records_each_data_and_task_file_by_the_plans_name_for_it(set_dir, site):
    assert recorded(set_dir) == {
        "dataset words": {
            "path": str(site.data / "words.json"),
            "size": (site.data / "words.json").stat().st_size,
            "sha256": sha256(site.data / "words.json"),
        },
        "task arithmetic": {"path": str(site.tasks), "size": site.tasks.stat().st_size, "sha256": sha256(site.tasks)},
        "task capitalization": {
            "path": str(site.tasks),
            "size": site.tasks.stat().st_size,
            "sha256": sha256(site.tasks),
        },
    }


def test_a_validation_file_is_recorded_too(site, slurm):
    (site.data / "held_out.json").write_text(json.dumps([{"input": "yo", "output": "YO"}]))
    set_dir = site.create(validation={"file": "held_out"})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert recorded(set_dir)["validation held_out"]["sha256"] == sha256(site.data / "held_out.json")


def test_a_moved_set_with_identical_data_scaffolds_and_checks_clean(moved, set_dir):
    cluster, copy = moved
    before = (copy / INPUTS_RECORD).read_text()
    scaffolded = expset("scaffold", str(copy))
    assert scaffolded.exit_code == 0 and "problem" not in scaffolded.stderr, scaffolded.stderr
    assert f'path: "{cluster.data / "words.json"}"' in (copy / "1B_rank8" / "setup_finetune.yaml").read_text()
    checked = expset("check", str(copy))
    assert checked.exit_code == 0, checked.stdout
    assert (copy / INPUTS_RECORD).read_text() == before  # still the paths and bytes of the first scaffold


def test_a_changed_byte_in_the_moved_data_is_a_problem_and_submit_refuses(moved, set_dir, site):
    cluster, copy = moved
    data = cluster.data / "words.json"
    data.write_text(data.read_text().replace("HI", "Hi"))
    scaffolded = expset("scaffold", str(copy))
    assert scaffolded.exit_code == 0 and "1 problem(s) above" in scaffolded.stderr
    assert recorded(copy)["dataset words"]["sha256"] == sha256(site.data / "words.json")  # not overwritten
    checked = expset("check", str(copy))
    assert checked.exit_code == 2
    assert input_problems(checked) == [
        f"problem: dataset words: {data} differs from the file the set was scaffolded with ({site.data / 'words.json'}"
        f"): sha256 {sha256(data)[:12]}…, {data.stat().st_size} bytes, recorded {sha256(site.data / 'words.json')[:12]}"
        f"…, {data.stat().st_size} bytes; if the change is deliberate, accept it with "
        f"`expset check {copy} --accept-inputs`"
    ]
    submitted = expset("submit", str(copy))
    assert submitted.exit_code == 2 and "nothing was submitted" in submitted.stderr
    assert not (copy / ".expset" / "jobs.jsonl").exists()


def test_accept_inputs_records_the_files_found_now(moved, set_dir):
    cluster, copy = moved
    data = cluster.data / "words.json"
    data.write_text(data.read_text().replace("HI", "Hi"))
    expset("scaffold", str(copy))
    accepted = expset("check", str(copy), "--accept-inputs")
    assert accepted.exit_code == 0, accepted.stdout
    assert f"accepted dataset words: recorded {data} (sha256 {sha256(data)[:12]}…)" in accepted.stderr
    assert recorded(copy)["dataset words"] == {"path": str(data), "size": data.stat().st_size, "sha256": sha256(data)}
    assert input_problems(expset("check", str(copy))) == []
    again = expset("check", str(copy), "--accept-inputs")
    assert "nothing to accept" in again.stderr


def test_a_changed_task_file_is_a_problem_for_each_evaluation_it_defines(set_dir, site):
    site.tasks.write_text(site.tasks.read_text() + "\n# a comment is a change too\n")
    checked = expset("check", str(set_dir))
    assert checked.exit_code == 2
    assert [line.split(":")[1].strip() for line in input_problems(checked)] == [
        "task arithmetic",
        "task capitalization",
    ]
    assert expset("check", str(set_dir), "--accept-inputs").exit_code == 0
    assert input_problems(expset("check", str(set_dir))) == []


def test_a_rescaffold_on_the_same_cluster_keeps_the_first_record(set_dir, site):
    first = (set_dir / INPUTS_RECORD).read_text()
    (site.data / "words.json").write_text(json.dumps([{"input": "bye", "output": "BYE"}]))
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert (set_dir / INPUTS_RECORD).read_text() == first


def test_an_unchanged_file_is_hashed_once_across_scaffolds_and_checks(set_dir, site, monkeypatch):
    from expset import inputs

    hashed = []
    real = inputs._sha256

    def counted(path):
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(inputs, "_sha256", counted)
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert expset("check", str(set_dir)).exit_code == 0
    assert hashed == []
    cache = json.loads((set_dir / INPUT_HASHES).read_text())
    assert set(cache) == {str(site.data / "words.json"), str(site.tasks)}
    (site.data / "words.json").write_text(json.dumps([{"input": "bye", "output": "BYE"}]))
    expset("check", str(set_dir))
    assert hashed == [str(site.data / "words.json")]


def test_a_file_replaced_with_its_size_and_modification_time_kept_is_hashed_again(set_dir, site):
    data = site.data / "words.json"
    kept = data.stat()
    replacement = site.data / "replacement.json"  # as a copy made elsewhere and moved in, times kept
    replacement.write_bytes(data.read_bytes().replace(b"HI", b"Hi"))
    os.utime(replacement, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    os.replace(replacement, data)
    assert (data.stat().st_size, data.stat().st_mtime_ns) == (kept.st_size, kept.st_mtime_ns)
    checked = expset("check", str(set_dir))
    assert [line.split(":")[1].strip() for line in input_problems(checked)] == ["dataset words"]

"""``expset extend``: a set grows by the runs a plan adds; every run it had keeps its name, folder and bytes."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from expset.render.yaml_read import load_yaml
from expset.render.yaml_text import to_yaml

from helpers import tree
from site_helpers import expset


def checksums(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path → sha256), hidden ones included."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def extend(site, set_dir: Path, **changes) -> object:
    plan_file = site.root / "extended.yaml"
    plan_file.write_text(to_yaml(site.plan(**changes)))
    return expset("extend", str(set_dir), str(plan_file), "--yes")


SEED_VARY = {"model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"], "lora_rank": [8, 16]}
OLD_RUNS = ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"]


@pytest.fixture
def set_dir(site, slurm):
    created = site.create()
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def test_a_new_rank_adds_exactly_its_runs_and_leaves_every_old_run_folder_byte_identical(site, set_dir):
    before = {run: checksums(set_dir / run) for run in OLD_RUNS}
    result = extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    assert result.exit_code == 0, result.stderr
    assert sorted(path.name for path in set_dir.iterdir() if path.is_dir() and not path.name.startswith(".")) == sorted(
        [*OLD_RUNS, "1B_rank32", "3B_rank32"]
    )
    assert {run: checksums(set_dir / run) for run in OLD_RUNS} == before
    assert tree(set_dir / "1B_rank32") == [
        "evaluations",
        "evaluations/arithmetic",
        "evaluations/capitalization",
        "run.yaml",
    ]
    assert "1B_rank32" in result.stdout and "3B_rank32" in result.stdout
    assert "1B_rank8\n" not in result.stdout  # the proposal shows only what is new


def test_the_set_files_list_the_new_runs_and_the_record_keeps_a_history_entry(site, set_dir):
    extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    record = load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")
    assert record["history"] == [
        {
            "date": record["history"][0]["date"],
            "author": "tester",
            "change": "extended",
            "summary": "added lora_rank 32: 2 runs",
            "runs": ["1B_rank32", "3B_rank32"],
        }
    ]
    assert record["plan"]["date"] == "2025-10-18"  # the set keeps its own date and name
    rows = list(csv.DictReader((set_dir / "runs.csv").open()))
    assert [row["run"] for row in rows] == ["1B_rank8", "1B_rank16", "1B_rank32", "3B_rank8", "3B_rank16", "3B_rank32"]
    assert "`1B_rank32`" in (set_dir / "runs_plan.md").read_text()
    readme = (set_dir / "README.md").read_text()
    assert "`3B_rank32`" in readme
    assert "added lora_rank 32: 2 runs" in readme


def test_extending_again_with_the_same_plan_writes_nothing(site, set_dir):
    extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    before = checksums(set_dir)
    again = extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    assert again.exit_code == 0, again.stderr
    assert "up to date" in again.stderr
    assert checksums(set_dir) == before


def test_scaffold_after_an_extension_writes_the_new_runs_and_leaves_the_old_runs_files_alone(site, set_dir):
    before = {run: checksums(set_dir / run) for run in OLD_RUNS}
    extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0, result.stderr
    assert {run: checksums(set_dir / run) for run in OLD_RUNS} == before
    assert (set_dir / "1B_rank32" / "finetune.slurm").is_file()
    assert "lora_rank: 32" in (set_dir / "1B_rank32" / "setup_finetune.yaml").read_text()


def test_a_model_that_breaks_the_sizes_only_names_is_refused_with_the_renames_and_aliases_that_keep_them(site, set_dir):
    site.add_model_files("Qwen2.5-0.5B-Instruct")
    before = checksums(set_dir)
    models = [*SEED_VARY["model"], "Qwen2.5-0.5B-Instruct"]
    result = extend(site, set_dir, vary={**SEED_VARY, "model": models})
    assert result.exit_code == 2
    assert "4 existing runs would be renamed (1B_rank8 → llama3.2_1B_rank8" in result.stderr
    assert "nothing was written" in result.stderr
    assert (
        'naming: {aliases: {"model": {"Llama-3.2-1B-Instruct": "1B", "Llama-3.2-3B-Instruct": "3B"}}}' in result.stderr
    )
    assert checksums(set_dir) == before
    aliases = {"model": {"Llama-3.2-1B-Instruct": "1B", "Llama-3.2-3B-Instruct": "3B"}}
    kept = extend(site, set_dir, vary={**SEED_VARY, "model": models}, naming={"aliases": aliases})
    assert kept.exit_code == 0, kept.stderr
    assert (set_dir / "qwen2.5_0.5B_rank8").is_dir()
    assert {run: checksums(set_dir / run) for run in OLD_RUNS} == {run: checksums(set_dir / run) for run in OLD_RUNS}


def test_a_parameter_that_newly_varies_keeps_the_old_names_for_the_value_the_set_fixed(site, set_dir):
    result = extend(site, set_dir, vary={**SEED_VARY, "lr": [1e-4, 3e-4]}, fixed={"dataset": "words", "epochs": 2})
    assert result.exit_code == 0, result.stderr
    assert (set_dir / "1B_rank8_lr3e-4").is_dir() and (set_dir / "1B_rank8").is_dir()
    assert not (set_dir / "1B_rank8_lr1e-4").exists()
    which_old = expset("which", str(set_dir), "1B_rank8", "--json")
    which_new = expset("which", str(set_dir), "3B_rank16_lr3e-4", "--json")
    assert '"lr": 0.0001' in which_old.stdout
    assert '"lr": 0.0003' in which_new.stdout and '"lora_rank": 16' in which_new.stdout
    rows = {row["run"]: row for row in csv.DictReader((set_dir / "runs.csv").open())}
    assert rows["1B_rank8"]["lr"] == "0.0001" and rows["1B_rank8_lr3e-4"]["lr"] == "0.0003"
    record = load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")
    assert record["format"] == 2  # an older expset, which would not leave the value out, refuses the record


def test_a_newly_varied_parameter_the_set_never_fixed_is_refused(site, set_dir):
    result = extend(site, set_dir, vary={**SEED_VARY, "lora_alpha": [16, 32]})
    assert result.exit_code == 2
    assert "vary.lora_alpha: the set's runs do not record a lora_alpha" in result.stderr


def test_a_changed_fixed_setting_or_a_dropped_value_is_refused_and_nothing_is_written(site, set_dir):
    before = checksums(set_dir)
    changed = extend(site, set_dir, fixed={"dataset": "words", "lr": 3e-4, "epochs": 2})
    assert changed.exit_code == 2
    assert "fixed.lr: 0.0003 here, 0.0001 in the set" in changed.stderr
    dropped = extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 32]})
    assert dropped.exit_code == 2
    assert "vary.lora_rank: 16 of the set's values is missing" in dropped.stderr
    assert checksums(set_dir) == before


def test_a_new_evaluation_gives_every_existing_run_its_folder_and_scaffold_its_jobs(site, set_dir):
    site.tasks.write_text(site.tasks.read_text() + "\n\n@task\ndef spelling():\n    return arithmetic()\n")
    evaluations = [*site.plan()["evaluations"], {"name": "spelling", "task": f"{site.tasks}@spelling"}]
    files_before = {run: checksums(set_dir / run) for run in OLD_RUNS}
    result = extend(site, set_dir, evaluations=evaluations)
    assert result.exit_code == 0, result.stderr
    for run in OLD_RUNS:
        assert (set_dir / run / "evaluations" / "spelling").is_dir()
        assert checksums(set_dir / run) == files_before[run]  # folders added, no file changed
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert (set_dir / "1B_rank8" / "evaluations" / "spelling" / "evaluate_epoch_1.slurm").is_file()


def test_a_readme_edited_by_hand_is_kept_and_the_others_are_rewritten(site, set_dir):
    readme = set_dir / "README.md"
    readme.write_text(readme.read_text() + "\nMy own notes.\n")
    result = extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    assert result.exit_code == 0, result.stderr
    assert readme.read_text().endswith("My own notes.\n")
    assert "Kept as edited by hand: README.md" in result.stdout
    assert "1B_rank32" in (set_dir / "runs.csv").read_text()


def test_a_folder_in_the_way_of_a_new_run_is_refused(site, set_dir):
    (set_dir / "1B_rank32").mkdir()
    (set_dir / "1B_rank32" / "mine.txt").write_text("not a run")
    result = extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    assert result.exit_code == 3
    assert "1B_rank32 already exists in the set folder" in result.stderr
    assert sorted(p.name for p in (set_dir / "1B_rank32").iterdir()) == ["mine.txt"]


def test_a_removed_run_stays_removed_when_the_set_is_extended(site, set_dir):
    assert expset("remove", str(set_dir), "3B_rank16", "--yes").exit_code == 0
    result = extend(site, set_dir, vary={**SEED_VARY, "lora_rank": [8, 16, 32]})
    assert result.exit_code == 0, result.stderr
    assert not (set_dir / "3B_rank16").exists()
    assert "3B_rank16" not in (set_dir / "runs.csv").read_text()

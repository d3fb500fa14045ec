"""``expset scaffold``: every file of every run, re-runs that respect edits, one-line errors."""

import csv
import json
import os

import pytest

from expset.render.yaml_read import load_yaml
from expset.render.yaml_text import to_yaml

from helpers import tree
from site_helpers import expset

RUN_FILES = [
    "evaluations/arithmetic/evaluate_epoch_1.slurm",
    "evaluations/capitalization/evaluate_epoch_0.slurm",
    "evaluations/capitalization/evaluate_epoch_1.slurm",
    "finetune.slurm",
    "finetune.yaml",
    "logs",
    "lora_single_device.py",
    "run.yaml",
    "setup_finetune.yaml",
]


def files_of(run_dir):
    return sorted(path for path in tree(run_dir) if "." in path or path == "logs")


def test_scaffold_writes_every_file_of_every_run_and_says_what_is_next(site):
    set_dir = site.create()
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0, result.stderr
    for run in ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"]:
        assert files_of(set_dir / run) == RUN_FILES
    assert "28 create" in result.stderr
    assert f"expset submit {set_dir}" in result.stderr


def test_the_log_folder_exists_before_any_job_runs(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    assert (set_dir / "1B_rank8" / "logs").is_dir()


def test_outputs_go_inside_the_run_folder(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    config = load_yaml((set_dir / "3B_rank16/finetune.yaml").read_text(), "finetune.yaml")
    assert config["output_dir"] == str(set_dir / "3B_rank16")
    assert config["checkpointer"]["output_dir"] == "${output_dir}"
    assert config["metric_logger"]["log_dir"] == "${output_dir}/logs"
    script = (set_dir / "3B_rank16/finetune.slurm").read_text()
    assert f"#SBATCH --output={set_dir}/3B_rank16/logs/finetune-%j.out" in script


def test_a_copied_set_is_scaffolded_for_its_new_folder_even_where_a_setup_was_edited(site):
    import shutil

    set_dir = site.create()
    expset("scaffold", str(set_dir))
    edited = set_dir / "1B_rank8" / "setup_finetune.yaml"
    edited.write_text(edited.read_text().replace("batch_size: 4", "batch_size: 2"))
    copy = site.root / "copy"
    shutil.copytree(set_dir, copy, symlinks=True)
    assert expset("scaffold", str(copy)).exit_code == 0
    for run in ("1B_rank8", "3B_rank16"):
        config = load_yaml((copy / run / "finetune.yaml").read_text(), "finetune.yaml")
        assert config["output_dir"] == str(copy / run)
        for path in [copy / run / "finetune.slurm", *(copy / run / "evaluations").glob("*/*.slurm")]:
            text = path.read_text()
            assert str(set_dir) not in text, path
            assert f"run_dir={copy / run}\n" in text and f"--output={copy / run}/" in text
    assert load_yaml((copy / "1B_rank8/finetune.yaml").read_text(), "c")["batch_size"] == 2


def test_a_setup_that_still_names_its_old_folder_is_not_followed_there(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank8" / "setup_finetune.yaml"
    setup.write_text(setup.read_text() + "run_dir: /elsewhere/1B_rank8\nset: elsewhere\n")
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert "/elsewhere" not in (set_dir / "1B_rank8" / "finetune.slurm").read_text()
    assert "/elsewhere" not in (set_dir / "1B_rank8" / "finetune.yaml").read_text()


def test_submit_refuses_the_scripts_of_a_copied_set_until_it_is_scaffolded_again(site):
    import shutil

    set_dir = site.create()
    expset("scaffold", str(set_dir))
    copy = site.root / "copy"
    shutil.copytree(set_dir, copy, symlinks=True)
    refused = expset("submit", str(copy), "--dry-run")
    assert refused.exit_code == 2
    assert "was written for another folder" in refused.stderr and f"expset scaffold {copy}" in refused.stderr
    assert expset("scaffold", str(copy)).exit_code == 0
    assert expset("submit", str(copy), "--dry-run").exit_code == 0


def test_the_setup_holds_the_runs_inputs(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = load_yaml((set_dir / "3B_rank16/setup_finetune.yaml").read_text(), "setup")
    assert setup["model"]["folder"] == str(site.models / "Llama-3.2-3B-Instruct")
    assert setup["data"]["path"] == str(site.data / "words.json")
    assert setup["training"]["lora_rank"] == 16 and setup["training"]["lora_alpha"] == 32
    assert setup["training"]["lr"] == 0.0001 and setup["training"]["epochs"] == 2
    assert setup["slurm"]["account"] == "lab"
    assert setup["evaluations"][0]["epochs"] == [0, 1] and setup["evaluations"][1]["epochs"] == [1]


def test_dry_run_lists_the_files_and_writes_nothing(site):
    set_dir = site.create()
    before = tree(set_dir)
    result = expset("scaffold", str(set_dir), "--dry-run")
    assert result.exit_code == 0
    assert f"create  {set_dir}/1B_rank8/finetune.yaml" in result.stdout
    assert tree(set_dir) == before


def test_a_second_scaffold_changes_nothing(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    stamps = {path: path.stat().st_mtime_ns for path in set_dir.rglob("*.slurm")}
    result = expset("scaffold", str(set_dir))
    assert "28 unchanged" in result.stderr
    assert stamps == {path: path.stat().st_mtime_ns for path in set_dir.rglob("*.slurm")}


def test_an_edited_generated_file_is_not_overwritten_and_nothing_is_written(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    script = set_dir / "1B_rank8/finetune.slurm"
    script.write_text(script.read_text() + "# my change\n")
    (set_dir / "1B_rank16/setup_finetune.yaml").unlink()
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 3
    assert "1B_rank8/finetune.slurm" in result.stderr and "--force" in result.stderr
    assert script.read_text().endswith("# my change\n")
    assert not (set_dir / "1B_rank16/setup_finetune.yaml").exists()


def test_force_overwrites_an_edited_generated_file(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    script = set_dir / "1B_rank8/finetune.slurm"
    script.write_text("edited\n")
    result = expset("scaffold", str(set_dir), "--force")
    assert result.exit_code == 0 and "1 overwrite" in result.stderr
    assert script.read_text().startswith("#!/bin/bash")


def test_an_edited_setup_is_kept_and_the_derived_files_follow_it(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank16/setup_finetune.yaml"
    setup.write_text(setup.read_text().replace("  batch_size: 4\n", "  batch_size: 16\n"))
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0
    assert "1 keep edited" in result.stderr
    assert "  batch_size: 16\n" in setup.read_text()
    assert load_yaml((set_dir / "1B_rank16/finetune.yaml").read_text(), "f")["batch_size"] == 16
    assert load_yaml((set_dir / "1B_rank8/finetune.yaml").read_text(), "f")["batch_size"] == 4


def edit_setup(set_dir, run: str, old: str, new: str) -> None:
    setup = set_dir / run / "setup_finetune.yaml"
    assert old in setup.read_text()
    setup.write_text(setup.read_text().replace(old, new))


def test_an_edit_of_a_setting_the_plan_fixes_is_recorded_as_the_runs_deviation_everywhere(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    edit_setup(set_dir, "1B_rank16", "  batch_size: 4\n", "  batch_size: 16\n")
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert load_yaml((set_dir / "1B_rank16/run.yaml").read_text(), "run.yaml")["deviations"] == {
        "training.batch_size": 16
    }
    assert "deviations" not in load_yaml((set_dir / "1B_rank8/run.yaml").read_text(), "run.yaml")
    rows = {row["run"]: row for row in csv.DictReader((set_dir / "runs.csv").open())}
    assert (rows["1B_rank16"]["deviations"], rows["1B_rank8"]["deviations"]) == ("training.batch_size=16", "")
    assert "- `1B_rank16`: `training.batch_size` = `16`" in (set_dir / "README.md").read_text()
    script = (set_dir / "1B_rank16/evaluations/arithmetic/evaluate_epoch_1.slurm").read_text()
    assert "expset_deviations:\n    training.batch_size: 16" in script
    edit_setup(set_dir, "1B_rank16", "  batch_size: 16\n", "  batch_size: 4\n")  # undone: recorded as undone
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert "deviations" not in load_yaml((set_dir / "1B_rank16/run.yaml").read_text(), "run.yaml")
    assert (
        "deviations" not in (set_dir / "runs.csv").read_text()
        and "Deviations" not in (set_dir / "README.md").read_text()
    )


def test_a_runs_deviation_outlives_the_next_scaffolds_and_a_change_of_profile_is_not_one(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    edit_setup(set_dir, "1B_rank16", "  seed: 42\n", "  seed: 7\n")
    assert expset("scaffold", str(set_dir)).exit_code == 0
    site.profile.write_text(site.profile.read_text().replace("module load cuda", "module load cuda/12"))
    for _ in range(2):
        assert expset("scaffold", str(set_dir)).exit_code == 0
        assert (set_dir / "1B_rank16/run.yaml").is_file()
    recorded = json.loads((set_dir / ".expset/deviations.json").read_text())
    assert recorded == {"1B_rank16": {"training.seed": 7}}


def test_a_setting_removed_by_hand_is_a_deviation(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    edit_setup(set_dir, "1B_rank16", "settings:\n", "settings:\n  ~compile: null\n")
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert json.loads((set_dir / ".expset/deviations.json").read_text()) == {"1B_rank16": {"settings.~compile": None}}


def test_a_varied_dataset_swapped_for_another_of_the_same_name_is_refused(site):
    for version in ("v1", "v2"):
        (site.data / version).mkdir()
        (site.data / version / "train.json").write_text(json.dumps([{"input": version, "output": version}]))
    set_dir = site.create(
        vary={"model": ["Llama-3.2-1B-Instruct"], "dataset": ["v1/train", "v2/train"]}, fixed={"epochs": 1}
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    [run] = [path for path in set_dir.iterdir() if path.name.endswith("v1-train")]
    edit_setup(set_dir, run.name, "/v1/train.json", "/v2/train.json")
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2 and "data.path is edited, but dataset varies across the set" in result.stderr


def test_an_edit_of_a_varied_parameter_is_refused_naming_the_file_and_the_parameter(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    edit_setup(set_dir, "1B_rank16", "  lora_rank: 16\n", "  lora_rank: 32\n")
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    setup = set_dir / "1B_rank16/setup_finetune.yaml"
    assert result.stderr.startswith(
        f"error: {setup}: training.lora_rank is edited, but lora_rank varies across the set and names this run"
    )


def test_a_readme_edited_by_hand_is_left_alone_and_a_note_says_where_the_deviations_are(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    readme = set_dir / "README.md"
    readme.write_text(readme.read_text() + "\nOur own notes.\n")
    edit_setup(set_dir, "1B_rank16", "  batch_size: 4\n", "  batch_size: 16\n")
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0
    assert readme.read_text().endswith("\nOur own notes.\n") and "Deviations" not in readme.read_text()
    assert "note: README.md was edited by hand, so it does not list the deviations; .expset/deviations.json does" in (
        result.stderr
    )


def test_an_edited_setup_with_a_bad_value_names_the_file_and_field(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank16/setup_finetune.yaml"
    setup.write_text(setup.read_text().replace("  lora_rank: 16\n", "  lora_rank: 0\n"))
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {setup}: training.lora_rank:")


def test_an_edited_setup_may_add_a_torchtune_setting_by_its_path(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank16/setup_finetune.yaml"
    setup.write_text(setup.read_text().replace("settings:\n", "settings:\n  optimizer.weight_decay: 0.2\n"))
    assert expset("scaffold", str(set_dir)).exit_code == 0
    assert load_yaml((set_dir / "1B_rank16/finetune.yaml").read_text(), "f")["optimizer"]["weight_decay"] == 0.2


def test_an_edited_setup_may_not_set_by_path_what_expset_sets(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank16/setup_finetune.yaml"
    setup.write_text(setup.read_text().replace("settings:\n", "settings:\n  model.lora_rank: 64\n"))
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {setup}: settings: model.lora_rank is what expset's parameter lora_rank sets — write lora_rank instead"
    )


def test_the_warm_up_follows_each_runs_length_and_a_planned_one_wins(site):
    (site.data / "many.jsonl").write_text("".join('{"input": "a", "output": "b"}\n' for _ in range(400)))
    fixed = {"model": "Llama-3.2-1B-Instruct", "dataset": "many", "epochs": 2, "batch_size": 2}
    set_dir = site.create(vary={"lora_rank": [8, 16]}, fixed=fixed)
    site.create(name="planned", vary={"lora_rank": [8, 16]}, fixed={**fixed, "lr_scheduler.num_warmup_steps": 7})
    planned = site.root / "planned_2025-10-18"
    for folder in (set_dir, planned):
        assert expset("scaffold", str(folder)).exit_code == 0
    config = load_yaml((set_dir / "rank8/finetune.yaml").read_text(), "f")
    assert config["lr_scheduler"]["num_warmup_steps"] == round(0.03 * 2 * 400 / 2) == 12
    assert "lr_scheduler.num_warmup_steps: 12\n" in (set_dir / "rank8/setup_finetune.yaml").read_text()
    config = load_yaml((planned / "rank8/finetune.yaml").read_text(), "f")
    assert config["lr_scheduler"]["num_warmup_steps"] == 7


def test_only_the_named_runs_are_scaffolded(site):
    set_dir = site.create()
    result = expset("scaffold", str(set_dir), "--runs", "3B_rank8,1B_rank16")
    assert result.exit_code == 0
    assert (set_dir / "3B_rank8/finetune.yaml").exists() and (set_dir / "1B_rank16/finetune.yaml").exists()
    assert not (set_dir / "1B_rank8/finetune.yaml").exists()


def test_a_run_that_does_not_exist_is_named(site):
    set_dir = site.create()
    result = expset("scaffold", str(set_dir), "--runs", "5B_rank8")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --runs: 5B_rank8 not in set")


def test_what_was_generated_is_recorded(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    record = json.loads((set_dir / ".expset/generated.json").read_text())
    assert "1B_rank8/finetune.yaml" in record and len(record) == 28


def test_a_missing_data_file_is_refused_at_create_naming_the_field_and_the_path(site):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(fixed={"dataset": "nope", "epochs": 1})))
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: fixed.dataset 'nope': no file at {site.data / 'nope'}")
    assert not (site.root / "scaffold-test_2025-10-18").exists()


def test_a_data_file_gone_since_create_is_one_line_naming_the_run_and_the_path(site):
    (site.data / "gone.json").write_text(json.dumps([{"input": "a", "output": "b"}]))
    set_dir = site.create(fixed={"dataset": "gone", "epochs": 1})
    (site.data / "gone.json").unlink()
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: run 1B_rank8: dataset 'gone': no file at {site.data / 'gone'}")
    assert not (set_dir / "1B_rank8/finetune.yaml").exists()


def test_an_unknown_model_is_refused_at_create_with_the_nearest_name(site):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(vary={"model": ["Llama-9-1B", "Llama-3.2-1B"]})))
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert "vary.model[0]: 'Llama-9-1B' is not a model expset knows — did you mean 'Llama-3.2-1B'?" in result.stderr
    assert not (site.root / "scaffold-test_2025-10-18").exists()


@pytest.mark.parametrize(("key", "near"), [("lora_rnak", "lora_rank"), ("learnign_rate", "learning_rate")])
def test_a_misspelt_parameter_is_refused_at_create_with_the_spelling(site, key, near):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(vary={"model": ["Llama-3.2-1B-Instruct"], key: [8, 16]})))
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert f"vary.{key}: is not a setting expset knows — did you mean {near!r}?" in result.stderr
    assert not (site.root / "scaffold-test_2025-10-18").exists()


def test_a_set_recorded_with_a_key_expset_cannot_apply_is_refused_at_scaffold_with_where_to_fix_it(site):
    set_dir = site.create()
    record = load_yaml((set_dir / "expset.yaml").read_text(), "expset.yaml")
    record["plan"]["fixed"]["warmup_ratio"] = 0.1  # written by hand, or by a version that did not check keys
    (set_dir / "expset.yaml").write_text(to_yaml(record))
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert "warmup_ratio is not a setting expset knows" in result.stderr
    assert "hint: fix the plan in the set's expset.yaml" in result.stderr


def test_an_evaluation_without_a_task_is_named(site):
    set_dir = site.create(evaluations=["fluency"])  # no task is bundled under that name
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: evaluations[0] (fluency): no task to run")


def test_an_epoch_the_run_never_reaches_is_rejected(site):
    set_dir = site.create(evaluations=[{"name": "arithmetic", "task": f"{site.tasks}@arithmetic", "epochs": [2]}])
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert "numbered 0 to 1" in result.stderr


def test_relative_model_folders_need_a_models_folder(site, monkeypatch):
    site.profile.write_text(f'data_folder = "{site.data}"\n')
    set_dir = site.create()
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert "no models folder is set" in result.stderr and "expset profile init" in result.stderr


def test_the_plans_site_overrides_the_profile(site):
    set_dir = site.create(site={"account": "other", "time": "00:30:00"})
    expset("scaffold", str(set_dir))
    script = (set_dir / "1B_rank8/finetune.slurm").read_text()
    assert "#SBATCH --account=other" in script and "#SBATCH --time=00:30:00" in script
    assert "#SBATCH --partition=gpu" in script


def test_profile_show_prints_the_settings(site):
    result = expset("profile", "show")
    assert result.exit_code == 0
    assert f'models_folder = "{site.models}"' in result.stdout
    assert str(site.profile) in result.stderr


def test_scaffolding_loads_no_torch_or_inspect(site):
    import subprocess
    import sys

    set_dir = site.create()
    probe = (
        "import sys\nfrom expset.cli.main import main\nsys.argv=['expset','scaffold',sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch','torchtune','torchao','inspect_ai')))"
    )
    output = subprocess.run([sys.executable, "-c", probe, str(set_dir)], capture_output=True, text=True, env=os.environ)
    assert output.stdout.strip().splitlines()[-1] == "[]", output.stderr
    assert (set_dir / "1B_rank8/finetune.yaml").exists()


def test_fine_tunes_save_adapters_only_unless_the_plan_asks_for_merged_weights(site):
    set_dir = site.create(vary={"model": ["Llama-3.2-1B-Instruct"], "save_adapter_weights_only": [True, False]})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    saved = {
        run.name: load_yaml((run / "finetune.yaml").read_text(), "f")["save_adapter_weights_only"]
        for run in sorted(set_dir.glob("*_save-*"))
    }
    assert list(saved.values()) == [False, True] and list(saved)[1].endswith("true")


def test_an_edited_setup_is_held_to_the_same_rules_as_a_derived_one(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank16/setup_finetune.yaml"
    setup.write_text(setup.read_text().replace("    epochs: [1]\n", "    epochs: [5]\n"))
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {setup}: evaluations.arithmetic.epochs: [5]")


def test_an_evaluation_the_setup_no_longer_asks_for_is_removed_and_never_submitted(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    setup = set_dir / "1B_rank8" / "setup_finetune.yaml"
    setup.write_text(setup.read_text().replace("epochs: [0, 1]", "epochs: [1]"))
    stale = set_dir / "1B_rank8" / "evaluations" / "capitalization" / "evaluate_epoch_0.slurm"
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 0 and "1 remove" in result.stderr, result.stderr
    assert not stale.exists()
    assert "evaluate_epoch_0" not in expset("submit", str(set_dir), "--dry-run", "--runs", "1B_rank8").stdout


def test_a_lost_record_of_generated_files_does_not_freeze_untouched_setups(site):
    set_dir = site.create()
    expset("scaffold", str(set_dir))
    (set_dir / ".expset" / "generated.json").unlink()
    lines = expset("scaffold", str(set_dir), "--dry-run").stdout.splitlines()
    setups = [line for line in lines if line.endswith("setup_finetune.yaml")]
    assert len(setups) == 4 and all(line.split()[0] == "unchanged" for line in setups), setups


def test_a_models_folder_written_with_home_or_a_variable_is_expanded(site, monkeypatch):
    monkeypatch.setenv("MODELS", str(site.models))
    site.profile.write_text(
        site.profile.read_text().replace(f'models_folder = "{site.models}"', 'models_folder = "$MODELS"')
    )
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    config = load_yaml((set_dir / "1B_rank8/finetune.yaml").read_text(), "finetune.yaml")
    assert config["checkpointer"]["checkpoint_dir"] == str(site.models / "Llama-3.2-1B-Instruct")

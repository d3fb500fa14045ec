"""``expset create`` and ``expset plan`` as a researcher uses them."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expset.cli.app import app

from helpers import run_expset, tree, write_plan

SEED_FILE = """\
name: llama lora comparison
purpose: Compare model size and LoRA rank.
date: 2025-10-18
author: Ada
vary:
  model: [Llama-3.2-1B-Instruct, Llama-3.2-3B-Instruct]
  lora_rank: [8, 16]
fixed:
  lr: 1e-4
evaluations: [capitalization, arithmetic]
"""
SET = "llama-lora-comparison_2025-10-18"
RUNS = ["1B_rank16", "1B_rank8", "3B_rank16", "3B_rank8"]


def expset(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def plan_file(isolated_environment: Path) -> Path:
    return write_plan(isolated_environment / "expset.yaml", SEED_FILE)


def test_create_with_yes_writes_the_whole_set(plan_file, isolated_environment):
    result = expset("create", str(plan_file), "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"created {isolated_environment / SET}" in result.stderr
    assert "expset scaffold" in result.stderr
    assert sorted(p.name for p in (isolated_environment / SET).iterdir()) == [
        *RUNS,
        "README.md",
        "base_1B",  # the control runs: each base model, evaluated untuned
        "base_3B",
        "expset.yaml",
        "runs.csv",
        "runs_plan.md",
    ]
    assert tree(isolated_environment / SET / "1B_rank8") == [
        "evaluations",
        "evaluations/arithmetic",
        "evaluations/capitalization",
        "run.yaml",
    ]


def test_create_without_a_terminal_or_yes_writes_nothing_and_says_to_use_yes(plan_file, isolated_environment):
    result = expset("create", str(plan_file))
    assert result.exit_code == 2
    assert "no terminal to ask for approval; nothing was written" in result.stderr
    assert "--yes" in result.stderr
    assert os.listdir(isolated_environment) == ["expset.yaml"]


def test_create_twice_with_the_same_plan_is_up_to_date_and_touches_nothing(plan_file, isolated_environment):
    expset("create", str(plan_file), "--yes")
    readme = isolated_environment / SET / "README.md"
    before = readme.stat().st_mtime_ns
    result = expset("create", str(plan_file), "--yes")
    assert result.exit_code == 0
    assert "up to date" in result.stderr
    assert readme.stat().st_mtime_ns == before


def test_create_over_a_set_with_a_different_plan_refuses_and_shows_the_difference(plan_file, isolated_environment):
    expset("create", str(plan_file), "--yes")
    snapshot = tree(isolated_environment / SET)
    result = expset("create", str(plan_file), "--yes", "--fixed", "lr=2e-4")
    assert result.exit_code == 3
    assert "already holds a set with a different plan; nothing was written" in result.stderr
    assert "-  lr: 0.0001\n+  lr: 0.0002" in result.stderr
    assert tree(isolated_environment / SET) == snapshot


def test_create_of_a_plan_that_adds_runs_to_the_set_there_points_to_extend(plan_file, isolated_environment):
    expset("create", str(plan_file), "--yes")
    result = expset("create", str(plan_file), "--yes", "--vary", "lora_rank=8,16,32")
    assert result.exit_code == 3
    target = isolated_environment / SET
    assert f"hint: this plan adds 2 runs to that set: `expset extend {target} PLAN`" in result.stderr


def test_create_over_a_folder_that_is_not_a_set_refuses(plan_file, isolated_environment):
    (isolated_environment / SET).mkdir()
    (isolated_environment / SET / "notes.txt").write_text("mine")
    result = expset("create", str(plan_file), "--yes")
    assert result.exit_code == 3
    assert "is not an expset set" in result.stderr
    assert tree(isolated_environment / SET) == ["notes.txt"]


def test_flags_build_the_same_plan_as_a_file(isolated_environment):
    result = expset(
        "create",
        "--yes",
        "--purpose",
        "Compare model size and LoRA rank.",
        "--name",
        "llama lora comparison",
        "--date",
        "2025-10-18",
        "--author",
        "Ada",
        "--vary",
        "model=Llama-3.2-1B-Instruct,Llama-3.2-3B-Instruct",
        "--vary",
        "lora_rank=8,16",
        "--fixed",
        "lr=1e-4",
        "--eval",
        "capitalization,arithmetic",
    )
    assert result.exit_code == 0, result.stderr
    from_flags = (isolated_environment / SET / "expset.yaml").read_text()
    (isolated_environment / "second").mkdir()
    plan = write_plan(isolated_environment / "expset.yaml", SEED_FILE)
    assert expset("create", str(plan), "--yes", "--root", str(isolated_environment / "second")).exit_code == 0
    assert (isolated_environment / "second" / SET / "expset.yaml").read_text() == from_flags


def test_plan_prints_the_proposal_and_writes_nothing(plan_file, isolated_environment):
    result = expset("plan", str(plan_file))
    assert result.exit_code == 0
    for expected in [
        SET,
        "{model}_rank{lora_rank}",
        "1B ← Llama-3.2-1B-Instruct",
        "3B_rank16",
        "evaluations/",
        "capitalization/",
        "runs_plan.md",
    ]:
        assert expected in result.stdout
    assert os.listdir(isolated_environment) == ["expset.yaml"]


def test_plan_json_gives_the_proposal_as_data(plan_file, isolated_environment):
    result = expset("plan", str(plan_file), "--json")
    proposal = json.loads(result.stdout)
    assert proposal["path"] == str(isolated_environment / SET)
    assert proposal["convention"]["template"] == "{model}_rank{lora_rank}"
    assert [run["name"] for run in proposal["runs"]] == ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"]
    assert proposal["runs"][0]["parameters"] == {"model": "Llama-3.2-1B-Instruct", "lora_rank": 8}
    assert proposal["controls"] == [
        {"name": "base_1B", "model": "Llama-3.2-1B-Instruct"},
        {"name": "base_3B", "model": "Llama-3.2-3B-Instruct"},
    ]
    assert proposal["folders"] == 6 * 4


def test_the_bundled_example_plans(isolated_environment):
    for example in ["size-rank", "datasets", "lr-rank"]:
        result = expset("plan", "--example", example, "--json")
        assert result.exit_code == 0, result.stderr
    assert [r["name"] for r in json.loads(expset("plan", "--example", "datasets", "--json").stdout)["runs"]] == [
        "acs1",
        "acs2",
        "acs-balanced",
    ]


def test_an_unknown_example_lists_the_known_ones():
    result = expset("plan", "--example", "nope")
    assert result.exit_code == 2
    assert "datasets, lr-rank, size-rank" in result.stderr


def test_root_comes_from_the_flag_before_the_plan_the_environment_and_the_profile(
    plan_file, isolated_environment, monkeypatch
):
    folders = {name: isolated_environment / name for name in ["flag", "plan", "env", "profile"]}
    for folder in folders.values():
        folder.mkdir()
    profile = isolated_environment / "profile.toml"
    profile.write_text(f'root = "{folders["profile"]}"\n')
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))

    def chosen(*extra: str) -> str:
        return json.loads(expset("plan", str(plan_file), "--json", *extra).stdout)["root"]

    assert chosen() == str(folders["profile"])
    monkeypatch.setenv("EXPSET_ROOT", str(folders["env"]))
    assert chosen() == str(folders["env"])
    write_plan(plan_file, SEED_FILE + f"root: {folders['plan']}\n")
    assert chosen() == str(folders["plan"])
    assert chosen("--root", str(folders["flag"])) == str(folders["flag"])


def test_a_missing_root_is_a_clear_error(plan_file, isolated_environment):
    result = expset("create", str(plan_file), "--yes", "--root", str(isolated_environment / "nope"))
    assert result.exit_code == 4
    assert "does not exist" in result.stderr and "mkdir -p" in result.stderr


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--fixed", "lora_rank=8"], "fixed.lora_rank:"),
        (["--vary", "lr=1e-4,0.0001"], "vary.lr:"),
        (["--date", "2025-02-30"], "date:"),
        (["--eval", "../up"], "evaluations[0]:"),
        (["--name", "../../etc"], "name:"),
        (["--template", "{model}"], "naming.template:"),
        (["--vary", "lr"], "--vary 'lr':"),
    ],
)
def test_bad_input_is_one_line_naming_the_field_with_exit_code_2(plan_file, isolated_environment, args, field):
    result = expset("create", str(plan_file), "--yes", *args)
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {field}"), result.stderr
    assert "Traceback" not in result.stderr
    assert os.listdir(isolated_environment) == ["expset.yaml"]


def test_unknown_plan_keys_exit_2_from_the_real_command_without_a_traceback(isolated_environment):
    plan = write_plan(isolated_environment / "p.yaml", SEED_FILE + "evaluation: [x]\n")
    completed = run_expset("create", str(plan), "--yes")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: evaluation: unknown field — did you mean 'evaluations'?")
    assert "Traceback" not in completed.stderr
    assert os.listdir(isolated_environment) == ["p.yaml"]


def test_yaml_syntax_errors_name_the_file_and_line(isolated_environment):
    plan = write_plan(isolated_environment / "p.yaml", "purpose: x\nvary: [1\n")
    result = expset("plan", str(plan))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {plan}:")


def test_a_missing_plan_file_is_named(isolated_environment):
    result = expset("plan", "nope.yaml")
    assert result.exit_code == 2
    assert "plan file nope.yaml does not exist" in result.stderr


def test_no_plan_at_all_says_how_to_give_one():
    result = expset("plan")
    assert result.exit_code == 2
    assert "give a plan file, --example NAME, or --purpose with --vary" in result.stderr


def test_numbers_in_flags_are_numbers():
    result = expset("plan", "--json", "--purpose", "p", "--vary", "lr=1e-4,2e-5", "--fixed", "compile=true")
    proposal = json.loads(result.stdout)
    assert [run["parameters"]["lr"] for run in proposal["runs"]] == [0.0001, 2e-5]
    assert proposal["fixed"] == {"compile": True}
    assert [run["name"] for run in proposal["runs"]] == ["lr1e-4", "lr2e-5"]


def test_a_set_made_before_control_runs_existed_says_how_to_keep_it(plan_file, isolated_environment):
    from expset.render.yaml_read import load_yaml
    from expset.render.yaml_text import to_yaml

    assert expset("create", str(plan_file), "--yes").exit_code == 0
    record_file = isolated_environment / SET / "expset.yaml"
    record = load_yaml(record_file.read_text(), "expset.yaml")
    del record["plan"]["controls"]  # as an earlier expset wrote it
    record_file.write_text(to_yaml(record))
    again = expset("create", str(plan_file), "--yes")
    assert again.exit_code == 3 and "+controls: true" in again.stderr
    assert "add `controls: false` to the plan to keep it as it is" in again.stderr


def test_the_proposal_shows_how_long_each_run_trains_and_warns_of_a_warm_up_longer_than_a_third(isolated_environment):
    data = isolated_environment / "train.jsonl"
    data.write_text("".join('{"input": "a", "output": "b"}\n' for _ in range(300)))
    args = ["--purpose", "p", "--vary", "batch_size=1,4", "--fixed", f"dataset={data}", "--fixed", "model=Llama-3.2-1B"]
    args += ["--fixed", "lr_scheduler.num_warmup_steps=40"]
    proposal = json.loads(expset("plan", "--json", *args).stdout)
    assert [(group["runs"], group["total_steps"], group["warmup_steps"]) for group in proposal["training"]] == [
        (["bs1"], 300, 40),
        (["bs4"], 75, 40),
    ]
    assert [(warning["runs"], warning["warning"][:22]) for warning in proposal["warnings"]] == [
        (["bs4"], "the warm-up (40 steps)")
    ]
    shown = expset("plan", *args).stdout
    assert (
        "Training bs4: 300 samples of" in shown
        and "→ 75 optimizer steps per epoch, 75 in all; warm-up 40 steps" in shown
    )
    assert "warning: bs4: the warm-up (40 steps) is more than a third of training (75 steps)" in shown


def test_a_dataset_that_cannot_be_looked_for_yet_is_a_note_not_an_error(isolated_environment):
    result = expset("plan", "--purpose", "p", "--vary", "lora_rank=8,16", "--fixed", "dataset=somewhere/train")
    assert result.exit_code == 0, result.stderr
    assert "note: dataset 'somewhere/train' is looked for at scaffold" in " ".join(result.stdout.split())

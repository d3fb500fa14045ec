"""``expset which`` decodes run names; ``expset schema`` describes the plan file."""

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from expset.cli.app import app
from expset.render.yaml_read import load_yaml
from expset.render.yaml_text import to_yaml

from helpers import SEED_PLAN


def expset(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def set_dir(isolated_environment):
    plan = isolated_environment / "plan.yaml"
    plan.write_text(to_yaml({**SEED_PLAN, "name": "decode me", "date": "2025-10-18"}))
    assert expset("create", str(plan), "--yes").exit_code == 0
    return isolated_environment / "decode-me_2025-10-18"


def test_which_prints_the_varied_and_fixed_parameters_of_a_run(set_dir):
    result = expset("which", str(set_dir), "3B_rank8")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "model      Llama-3.2-3B-Instruct  (varied)",
        "lora_rank  8  (varied)",
        "lr         0.0001  (fixed)",
        "epochs     2  (fixed)",
    ]


def test_which_accepts_a_run_folder_path(set_dir):
    result = expset("which", str(set_dir), f"{set_dir}/1B_rank16/", "--json")
    assert json.loads(result.stdout) == {
        "run": "1B_rank16",
        "kind": "fine-tuned",
        "varied": {"model": "Llama-3.2-1B-Instruct", "lora_rank": 16},
        "fixed": {"lr": 0.0001, "epochs": 2},
    }


def test_which_decodes_every_run_back_to_its_row_in_runs_csv(set_dir):
    import csv

    rows = list(csv.DictReader((set_dir / "runs.csv").open()))
    for row in rows:
        decoded = json.loads(expset("which", str(set_dir), row["run"], "--json").stdout)
        columns = {key: row[key] for key in ("model", "lora_rank") if row[key]}
        assert {k: str(v) for k, v in decoded["varied"].items()} == columns and decoded["kind"] == row["kind"]
    assert [row["kind"] for row in rows].count("control") == 2


def test_which_names_an_unknown_run_and_shows_what_runs_look_like(set_dir):
    result = expset("which", str(set_dir), "8B_rank8")
    assert result.exit_code == 2
    assert "run '8B_rank8' is not in set decode-me_2025-10-18" in result.stderr
    assert "1B_rank8" in result.stderr


def test_which_on_a_folder_that_is_not_a_set_says_so(isolated_environment):
    result = expset("which", str(isolated_environment), "x")
    assert result.exit_code == 2
    assert "is not an experiment set (no expset.yaml)" in result.stderr


def test_schema_is_json_schema_that_accepts_the_examples_and_rejects_unknown_keys():
    schema = json.loads(expset("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    from importlib import resources

    for example in resources.files("expset.examples").iterdir():
        if example.name.endswith(".yaml"):
            jsonschema.validate(load_yaml(example.read_text(), example.name), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"purpose": "x", "evaluation": []}, schema)


def test_the_setup_file_has_a_schema_too(site):
    import jsonschema
    import yaml

    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    schema = json.loads(expset("schema", "--setup").stdout)
    assert "run_dir" not in schema["properties"] and {"model", "training", "evaluations"} <= set(schema["properties"])
    jsonschema.validate(yaml.safe_load((set_dir / "1B_rank8" / "setup_finetune.yaml").read_text()), schema)

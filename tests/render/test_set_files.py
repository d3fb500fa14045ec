"""The files of a set, rendered from the plan: nothing in them is typed by hand."""

import copy
import csv
import io
import re

import jinja2
import pytest

from expset.core.layout import plan_layout
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.core.record import experiment_set_from_record
from expset.render import templates
from expset.render.set_files import README_RUN_LIMIT, render_set_files
from expset.render.yaml_read import load_yaml

from helpers import SEED_PLAN, TODAY


def rendered(**changes) -> dict[str, str]:
    data = copy.deepcopy(SEED_PLAN)
    data.update(changes)
    experiment_set = design_set(parse_plan(data, today=TODAY, default_author="Ada Lovelace"))
    return dict(render_set_files(experiment_set, plan_layout(experiment_set), "9.9.9"))


def test_readme_states_purpose_author_date_and_version():
    readme = rendered(notes="Baseline for the spring study.")["README.md"]
    assert "Compare model size and LoRA rank." in readme
    assert "Created on 2026-11-29 by Ada Lovelace, with expset 9.9.9" in readme
    assert "## Notes\n\nBaseline for the spring study." in readme


def test_readme_explains_what_varies_with_values_and_tokens():
    readme = rendered()["README.md"]
    assert "| `model` | Llama-3.2-1B-Instruct, Llama-3.2-3B-Instruct | `1B`, `3B` |" in readme
    assert "| `lora_rank` | 8, 16 | `rank8`, `rank16` |" in readme


def test_readme_lists_fixed_parameters_apart_from_names():
    readme = rendered()["README.md"]
    assert "| `lr` | 0.0001 |" in readme and "| `epochs` | 2 |" in readme


def test_readme_decodes_an_example_name():
    readme = rendered()["README.md"]
    assert "Run folders are named `{model}_rank{lora_rank}`" in readme
    assert (
        "`3B_rank16` decodes as:\n\n- `3B` → `model` = Llama-3.2-3B-Instruct\n- `rank16` → `lora_rank` = 16" in readme
    )


def test_readme_says_why_evaluations_live_inside_each_run_and_what_comes_next():
    readme = rendered()["README.md"]
    assert "Evaluations live inside each run's own folder" in readme
    assert "expset scaffold llama3.2-size-rank_2026-11-29" in readme
    assert "epochs are numbered from 0" in readme


def test_readme_lists_a_bounded_number_of_runs_and_points_to_the_full_list():
    readme = rendered(vary={"seed": list(range(README_RUN_LIMIT + 7)), "lora_rank": [8, 16]})["README.md"]
    assert len(re.findall(r"^- `seed\d+_rank\d+`$", readme, re.MULTILINE)) == README_RUN_LIMIT
    assert f"… and {2 * (README_RUN_LIMIT + 7) - README_RUN_LIMIT} more" in readme


def test_runs_plan_lists_every_run_and_the_full_structure_of_a_run():
    runs_plan = rendered()["runs_plan.md"]
    for name in ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"]:
        assert f"| `{name}` |" in runs_plan
    for item in [
        "setup_finetune.yaml",
        "finetune.yaml",
        "finetune.slurm",
        "epoch_0/",
        "capitalization/",
        "arithmetic/",
    ]:
        assert item in runs_plan
    assert "Epoch folders are numbered from 0" in runs_plan


HOSTILE = ['say "hi"', "a: b", "- x", "#hash", "multi\nline", "tab\there", "1e-4", "yes", "null", "{x}", "ü"]


@pytest.mark.parametrize("value", HOSTILE)
def test_run_file_reads_back_as_the_runs_parameters_whatever_the_text(value):
    files = rendered(
        vary={"style": [value, "plain"]},
        fixed={"note": value},
        naming={"aliases": {"style": {value: "odd"}}},
        labels={"style": "the answer style our script asks for", "note": "a note"},
    )
    run = load_yaml(files["style-odd/run.yaml"], "run.yaml")
    assert run["varied"] == {"style": value}
    assert run["fixed"] == {"note": value}
    assert run["run"] == "style-odd"


def test_runs_table_has_a_row_per_run_with_every_parameter():
    rows = list(csv.DictReader(io.StringIO(rendered()["runs.csv"])))
    assert [row["run"] for row in rows] == ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16", "base_1B", "base_3B"]
    assert rows[3] == {
        "run": "3B_rank16",
        "kind": "fine-tuned",
        "model": "Llama-3.2-3B-Instruct",
        "lora_rank": "16",
        "lr": "0.0001",
        "epochs": "2",
    }
    assert rows[5] == {"run": "base_3B", "kind": "control", "model": "Llama-3.2-3B-Instruct"} | {
        "lora_rank": "",
        "lr": "",
        "epochs": "",
    }


def test_plan_record_reads_back_as_the_same_set():
    data = copy.deepcopy(SEED_PLAN)
    experiment_set = design_set(parse_plan(data, today=TODAY, default_author="ada"))
    files = dict(render_set_files(experiment_set, plan_layout(experiment_set), "9.9.9"))
    assert experiment_set_from_record(load_yaml(files["expset.yaml"], "x")) == experiment_set


def test_readme_links_resolve_inside_the_set():
    files = rendered(vary={"seed": list(range(60))})
    for target in re.findall(r"\]\(([^)#]+)\)", files["README.md"]):
        assert target in files


def test_a_template_that_names_a_missing_variable_fails_loudly():
    with pytest.raises(jinja2.UndefinedError):
        templates.environment().from_string("{{ not_in_context }}").render({})

"""The plan schema: what is accepted, and the one line that names each problem and its fix."""

import copy
import datetime as dt

import pytest

from expset.core.plan import parse_plan
from expset.errors import PlanError

from helpers import SEED_PLAN, TODAY


def parse(data):
    return parse_plan(data, today=TODAY, default_author="ada")


def problems(data) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse(data)
    return caught.value.problems


def seed(**changes):
    data = copy.deepcopy(SEED_PLAN)
    data.update(changes)
    return data


def test_author_and_date_default_to_what_the_caller_supplies():
    plan = parse(seed())
    assert (plan.author, plan.date) == ("ada", TODAY)


def test_an_explicit_date_is_kept():
    assert parse(seed(date="2025-10-18")).date == dt.date(2025, 10, 18)


@pytest.mark.parametrize("written", ["1e-4", "0.0001", 1e-4, 0.0001])
def test_learning_rates_are_numbers_however_written(written):
    plan = parse(seed(vary={"lr": [written, 2e-5]}, fixed={}))
    assert plan.vary["lr"] == [0.0001, 2e-5]


def test_integer_parameters_written_as_text_become_integers():
    assert parse(seed(vary={"lora_rank": ["8", 16]})).vary["lora_rank"] == [8, 16]


def test_booleans_stay_booleans():
    assert parse(seed(fixed={"compile": True})).fixed["compile"] is True


def test_unknown_field_names_the_field_and_suggests_the_spelling():
    [line] = problems(seed(evaluation=["x"]))
    assert line.startswith("evaluation: unknown field")
    assert "did you mean 'evaluations'?" in line


def test_unknown_naming_field_is_rejected():
    [line] = problems(seed(naming={"templat": "{model}"}))
    assert line.startswith("naming.templat: unknown field")


def test_missing_purpose_is_named():
    data = seed()
    del data["purpose"]
    assert problems(data) == ["purpose: required — add purpose: to the plan"]


def test_empty_value_list_is_rejected_with_the_fix():
    lines = problems(seed(vary={"model": ["a", "b"], "lora_rank": []}))
    assert "vary.lora_rank: has no values — list at least one, or move it to fixed" in lines


def test_duplicate_values_are_rejected_even_when_written_differently():
    [line] = problems(seed(vary={"lr": [1e-4, "0.0001"]}, fixed={}))
    assert line.startswith("vary.lr: ") and "listed twice" in line


def test_a_parameter_cannot_be_both_varied_and_fixed():
    [line] = problems(seed(fixed={"lora_rank": 8}))
    assert line == "fixed.lora_rank: is also in vary — keep it in one of vary or fixed"


@pytest.mark.parametrize("date", ["2026-13-01", "2026-02-30", "yesterday", "29/11/2026"])
def test_bad_dates_are_rejected_with_the_expected_format(date):
    [line] = problems(seed(date=date))
    assert line.startswith("date: ") and "YYYY-MM-DD" in line


def test_a_plan_where_nothing_varies_needs_a_reason():
    [line] = problems(seed(vary={"model": ["Llama-3.2-1B"]}))
    assert line.startswith("vary: nothing varies") and "single_run_reason" in line


def test_a_single_run_with_a_reason_is_accepted():
    plan = parse(seed(vary={"model": ["Llama-3.2-1B"]}, single_run_reason="baseline for later sets"))
    assert plan.single_run_reason


def test_non_numeric_text_for_a_numeric_parameter_is_rejected():
    [line] = problems(seed(vary={"lr": ["fast", 1e-4]}, fixed={}))
    assert line == "vary.lr[0]: 'fast' is not a number — write e.g. 1e-4"


def test_fractional_rank_is_rejected():
    [line] = problems(seed(vary={"lora_rank": [8, 16.5]}))
    assert line.startswith("vary.lora_rank[1]: 16.5 is not a whole number")


def test_nested_values_are_rejected():
    [line] = problems(seed(vary={"lora_rank": [[8], 16]}))
    assert line.startswith("vary.lora_rank[0]: expected a single value")


@pytest.mark.parametrize("task", ["../x", "a/b", "-rf", ".hidden", "a b", "ok\n"])
def test_task_names_that_are_not_folder_names_are_rejected(task):
    [line] = problems(seed(evaluations=[task]))
    assert line.startswith("evaluations[0]: ") and "cannot be a folder name" in line


@pytest.mark.parametrize("name", ["../escape", "a/b", "-rf", "x\x00y", ".hidden"])
def test_set_descriptions_that_could_escape_the_root_are_rejected(name):
    [line] = problems(seed(name=name))
    assert line.startswith("name: ") and "outside the root" in line


def test_alias_for_a_value_that_is_not_varied_is_rejected():
    [line] = problems(seed(naming={"aliases": {"model": {"Llama-3.1-8B": "big"}}}))
    assert line == "naming.aliases.model: 'Llama-3.1-8B' is not one of the values in vary.model"


def test_alias_that_is_not_a_safe_name_is_rejected():
    [line] = problems(seed(naming={"aliases": {"model": {"Llama-3.2-1B-Instruct": "../x"}}}))
    assert line.startswith("naming.aliases.model.Llama-3.2-1B-Instruct: ")


def test_a_top_level_list_is_not_a_plan():
    assert problems([1, 2]) == ["plan: expected a mapping of fields (purpose:, vary:, …) at the top level"]


@pytest.mark.parametrize(
    ("section", "typo", "meant", "also_allowed"),
    [
        ({"site": {"partiton": "gpu"}}, "site.partiton", "partition", "mail_user"),
        ({"data": {"formt": "chat"}}, "data.formt", "format", "conversation_style"),
        ({"evaluations": [{"name": "a", "tsk": "t.py@a"}]}, "evaluations[0].tsk", "task", "epochs"),
    ],
)
def test_an_unknown_field_in_a_section_names_that_sections_fields(section, typo, meant, also_allowed):
    with pytest.raises(PlanError) as refused:
        parse_plan({"purpose": "p", "vary": {"lora_rank": [8, 16]}, **section}, today=TODAY, default_author="a")
    problem = refused.value.problems[0]
    assert problem.startswith(f"{typo}: unknown field — did you mean '{meant}'? allowed here: ")
    assert also_allowed in problem and "template" not in problem


def test_a_root_under_site_is_refused_rather_than_ignored():
    with pytest.raises(PlanError) as refused:
        parse_plan(
            {"purpose": "p", "vary": {"lora_rank": [8, 16]}, "site": {"root": "/scratch/x"}},
            today=TODAY,
            default_author="a",
        )
    assert refused.value.problems[0].startswith("site.root: a plan names its folder with root: at the top level")

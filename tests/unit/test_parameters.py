"""The registry of well-known parameters is the one source of their rules: plan and setup agree."""

import datetime as dt

import pytest
from pydantic import ValidationError

from expset.core.naming import design_set
from expset.core.parameters import PARAMETERS, Bounds, parameter
from expset.core.plan import parse_plan
from expset.core.run_setup import TrainingSetup
from expset.errors import PlanError

BOUNDED_TRAINING = [p for p in PARAMETERS if p.section == "training" and p.bounds and p.same_as is None]
VALID_TRAINING = {"lr": 1e-4, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.0, "epochs": 1, "batch_size": 1}
VALID_TRAINING["gradient_accumulation_steps"] = 1


def plan_refuses(key: str, value: object) -> bool:
    data = {"purpose": "p", "vary": {"dataset": ["a.jsonl", "b.jsonl"]}, "fixed": {key: value}}
    try:
        parse_plan(data, today=dt.date(2026, 1, 1), default_author="a")
    except PlanError:
        return True
    return False


def setup_refuses(key: str, value: object) -> bool:
    try:
        TrainingSetup.model_validate({**VALID_TRAINING, key: value})
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("known", BOUNDED_TRAINING, ids=lambda p: p.key)
def test_a_plan_and_a_hand_edited_setup_refuse_the_same_values(known):
    bounds = known.bounds
    edges = [bounds.low, bounds.high]
    for edge in (value for value in edges if value is not None):
        below, above = edge - 1, edge + 1
        for value in (below, edge, above):
            value = int(value) if known.kind == "integer" else value
            assert plan_refuses(known.key, value) == setup_refuses(known.key, value), (known.key, value)


@pytest.mark.parametrize(
    ("bounds", "kind", "described"),
    [
        (Bounds(low=0, low_included=False), "number", "a number above 0"),
        (Bounds(low=1), "integer", "a whole number of at least 1"),
        (Bounds(low=0, high=1, high_included=False), "number", "a number from 0 up to (not including) 1"),
    ],
)
def test_bounds_say_what_is_allowed_in_words(bounds, kind, described):
    assert bounds.describe(kind) == described


def test_a_parameters_run_name_prefix_and_set_name_word_come_from_its_row():
    plan = parse_plan(
        {"purpose": "p", "vary": {"lora_rank": [8, 16], "batch_size": [4, 8]}},
        today=dt.date(2026, 1, 1),
        default_author="a",
    )
    experiment_set = design_set(plan)
    assert experiment_set.runs[0].name == f"{parameter('lora_rank').prefix}8_{parameter('batch_size').prefix}4"
    assert experiment_set.set_name.startswith(f"{parameter('lora_rank').set_word}-{parameter('batch_size').set_word}_")


def test_an_out_of_range_value_is_named_with_what_its_parameter_takes():
    with pytest.raises(PlanError) as refused:
        parse_plan(
            {"purpose": "p", "vary": {"lora_dropout": [0.1, 1.0]}}, today=dt.date(2026, 1, 1), default_author="a"
        )
    assert "vary.lora_dropout[1]: 1.0 is out of range — lora_dropout takes a number from 0 up to (not including) 1" in (
        refused.value.message
    )

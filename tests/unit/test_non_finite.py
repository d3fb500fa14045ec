"""Numbers that are not numbers (``.inf``, ``.nan``) are refused wherever they appear in a plan."""

import datetime as dt

import pytest

from expset.core.plan import parse_plan
from expset.errors import PlanError


def plan(**changes):
    data = {"purpose": "p", "vary": {"lora_rank": [8, 16]}, "fixed": {"model": "Llama-3.2-1B-Instruct"}}
    data.update(changes)
    return parse_plan(data, today=dt.date(2026, 1, 1), default_author="a")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fixed": {"lr": float("inf")}}, "fixed.lr"),
        ({"vary": {"lr": [1e-4, float("nan")]}}, "vary.lr[1]"),
        ({"fixed": {"note": float("-inf")}}, "fixed.note"),
        ({"evaluations": [{"name": "e", "args": {"t": float("nan")}}]}, "evaluations[0].args.t"),
    ],
)
def test_a_non_finite_number_is_refused_naming_its_field(changes, field):
    with pytest.raises(PlanError) as refused:
        plan(**changes)
    assert refused.value.problems[0].startswith(f"{field}: ") and "not a finite number" in refused.value.problems[0]

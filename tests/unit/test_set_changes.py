"""The pure core of extending a set: what a plan adds, and what it may not change. No disk."""

from __future__ import annotations

import datetime as dt

import pytest

from expset.core.naming import decode_run_name, design_set
from expset.core.plan import parse_plan
from expset.core.set_changes import extend_set, remove_runs
from expset.errors import NamingError, PlanError, UsageError

from helpers import SEED_PLAN, TODAY


def designed(**changes):
    return design_set(parse_plan({**SEED_PLAN, "date": "2025-10-18", **changes}, today=TODAY, default_author="Ada"))


def plan(**changes):
    return parse_plan({**SEED_PLAN, **changes}, today=TODAY, default_author="Ada")


def extended(existing, **changes):
    return extend_set(existing, plan(**changes), today=dt.date(2026, 12, 1), author="Grace")


def names(experiment_set) -> list[str]:
    return [run.name for run in experiment_set.all_runs]


def test_new_values_add_the_runs_of_their_combinations_only():
    existing = designed()
    extension = extended(existing, vary={**SEED_PLAN["vary"], "lora_rank": [8, 16, 32]})
    assert [run.name for run in extension.added] == ["1B_rank32", "3B_rank32"]
    assert set(names(existing)) < set(names(extension.extended))
    assert extension.entry.author == "Grace" and extension.entry.date == "2026-12-01"
    assert extension.extended.plan.date == dt.date(2025, 10, 18)


def test_the_set_s_values_keep_their_order_and_new_ones_follow_whatever_order_the_plan_gives():
    extension = extended(designed(), vary={**SEED_PLAN["vary"], "lora_rank": [32, 16, 8]})
    assert extension.extended.plan.vary["lora_rank"] == [8, 16, 32]


def test_more_replicates_add_the_new_seeds():
    existing = designed(replicates=2)
    extension = extended(existing, replicates=3)
    assert [run.name for run in extension.added] == [
        "1B_rank8_seed3",
        "1B_rank16_seed3",
        "3B_rank8_seed3",
        "3B_rank16_seed3",
    ]


def test_a_newly_varied_parameter_is_left_out_of_the_existing_runs_names_and_decoded_back():
    existing = designed()
    fixed = {key: value for key, value in SEED_PLAN["fixed"].items() if key != "lr"}
    extension = extended(existing, vary={**SEED_PLAN["vary"], "lr": [3e-4, 1e-4]}, fixed=fixed)
    convention = extension.extended.convention
    assert convention.template == "{model}_rank{lora_rank}_lr{lr}"
    assert decode_run_name(convention, "1B_rank8") == {"model": "Llama-3.2-1B-Instruct", "lora_rank": 8, "lr": 1e-4}
    assert decode_run_name(convention, "1B_rank8_lr3e-4")["lr"] == 3e-4
    assert decode_run_name(convention, "1B_rank8_lr1e-4") is None  # the left-out value has no token


def test_a_set_named_by_its_own_template_needs_the_new_parameter_in_a_template():
    existing = designed(naming={"template": "{model}-r{lora_rank}"})
    fixed = {key: value for key, value in SEED_PLAN["fixed"].items() if key != "lr"}
    with pytest.raises(NamingError, match="leaves out lr") as raised:
        extended(existing, vary={**SEED_PLAN["vary"], "lr": [1e-4, 3e-4]}, fixed=fixed, naming={})
    assert raised.value.hint == 'give the template with it, e.g. naming: {template: "{model}-r{lora_rank}_lr{lr}"}'
    extension = extended(
        existing,
        vary={**SEED_PLAN["vary"], "lr": [1e-4, 3e-4]},
        fixed=fixed,
        naming={"template": "{model}-r{lora_rank}-{lr}"},
    )
    assert "1B-r8" in names(extension.extended) and "1B-r8-3e-4" in names(extension.extended)


def test_a_template_that_renames_the_existing_runs_is_refused_and_the_set_s_template_suggested():
    with pytest.raises(NamingError, match="4 existing runs would be renamed") as raised:
        extended(designed(), naming={"template": "{lora_rank}_{model}"})
    assert raised.value.hint == 'keep the set\'s names with naming: {template: "{model}_rank{lora_rank}"}'


def test_control_runs_may_be_added_but_not_taken_away():
    existing = designed(controls=False)
    assert [run.name for run in extended(existing, controls=True).added] == ["base_1B", "base_3B"]
    with pytest.raises(PlanError, match="controls: the set has control runs"):
        extended(designed(controls=True), controls=False)


def test_an_evaluation_changed_in_place_is_refused_and_a_new_one_is_added():
    existing = designed()
    extension = extended(existing, evaluations=["capitalization", "arithmetic", "spelling"])
    assert extension.new_tasks == ("spelling",) and extension.added == ()
    assert extension.adds_anything
    with pytest.raises(PlanError, match="evaluations: arithmetic differs"):
        extended(existing, evaluations=["capitalization", {"name": "arithmetic", "epochs": "all"}])


def test_a_plan_that_adds_nothing_adds_nothing_and_keeps_no_history():
    existing = designed()
    extension = extended(existing)
    assert not extension.adds_anything
    assert extension.extended.history == ()


def test_every_problem_is_named_at_once():
    with pytest.raises(PlanError) as raised:
        extended(designed(), vary={"model": ["Llama-3.2-1B-Instruct"], "lora_rank": [8, 16]}, fixed={"lr": 3e-4})
    lines = raised.value.problems
    assert any(line.startswith("vary.model: Llama-3.2-3B-Instruct of the set's values is missing") for line in lines)
    assert any(line.startswith("fixed.lr: 0.0003 here, 0.0001 in the set") for line in lines)
    assert any(line.startswith("fixed.epochs: the set fixes it at 2") for line in lines)


def test_removing_runs_records_them_and_refuses_to_leave_no_fine_tune():
    existing = designed()
    trimmed = remove_runs(existing, ["1B_rank8"], today=TODAY, author="Ada")
    assert trimmed.removed == ("1B_rank8",) and "1B_rank8" not in names(trimmed)
    assert trimmed.history[-1].summary == "removed 1 run"
    with pytest.raises(UsageError, match="no fine-tune of the set would be left"):
        remove_runs(existing, [run.name for run in existing.runs], today=TODAY, author="Ada")


def test_a_second_model_added_to_a_one_model_set_keeps_its_control_named_base():
    existing = designed(
        vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B-Instruct", "lr": 1e-4}, controls=True
    )
    assert [run.name for run in existing.controls] == ["base"]
    extension = extended(
        existing,
        vary={"lora_rank": [8, 16], "model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"]},
        fixed={"lr": 1e-4},
        controls=True,
    )
    assert [run.name for run in extension.added] == ["rank8_3B", "rank16_3B", "base_3B"]
    assert "base" in names(extension.extended)


def test_a_checkpoint_that_assumed_the_set_s_one_model_says_it_once_the_model_varies():
    existing = designed(
        vary={"lora_rank": [8, 16]},
        fixed={"model": "Llama-3.2-1B-Instruct", "lr": 1e-4},
        evaluate_only={"external": "/ckpt/epoch_0"},
        controls=False,
    )
    extension = extended(
        existing,
        vary={"lora_rank": [8, 16], "model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"]},
        fixed={"lr": 1e-4},
        evaluate_only={"external": {"path": "/ckpt/epoch_0", "model": "Llama-3.2-1B-Instruct"}},
        controls=False,
    )
    [external] = extension.extended.evaluation_only
    assert external.name == "external" and external.varied == {"model": "Llama-3.2-1B-Instruct"}


def test_a_removal_of_many_runs_of_a_large_set_is_quick():
    import time

    existing = designed(vary={"lora_rank": list(range(1, 5001)), "model": SEED_PLAN["vary"]["model"]})
    start = time.perf_counter()
    trimmed = remove_runs(existing, [run.name for run in existing.runs[::2]], today=TODAY, author="Ada")
    assert len(trimmed.runs) == 5000
    assert time.perf_counter() - start < 5  # quadratic took minutes; linear takes a fraction of a second

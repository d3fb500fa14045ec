"""Control runs: the untuned base model of every distinct model in a set, evaluated like the fine-tunes,
named by the same convention, never trained; and the decisions that treat them as runs of their own kind."""

import datetime as dt

import pytest

from expset.core.jobs import JobState, Progress, plan_submission, run_progress
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.core.record import experiment_set_from_record, set_record
from expset.core.report import Cell, RunInfo, Score, differences_to_base
from expset.errors import NamingError, PlanError

S = JobState
TODAY = dt.date(2026, 1, 1)


def designed(**plan: object):
    data = {"purpose": "p", "evaluations": ["arithmetic"], **plan}
    return design_set(parse_plan(data, today=TODAY, default_author="a"))


def test_a_set_with_evaluations_and_a_model_gets_a_control_per_model_named_by_its_token():
    experiment_set = designed(vary={"model": ["Llama-3.2-1B", "Llama-3.2-3B"], "lora_rank": [8, 16]})
    assert [(run.name, run.varied, run.kind) for run in experiment_set.controls] == [
        ("base_1B", {"model": "Llama-3.2-1B"}, "control"),
        ("base_3B", {"model": "Llama-3.2-3B"}, "control"),
    ]
    assert [run.name for run in experiment_set.all_runs][-2:] == ["base_1B", "base_3B"]


def test_a_fixed_model_gets_one_control_called_base():
    experiment_set = designed(vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B"})
    assert [run.name for run in experiment_set.controls] == ["base"]


@pytest.mark.parametrize(
    "plan",
    [
        {"vary": {"lora_rank": [8, 16]}, "fixed": {"model": "Llama-3.2-1B"}, "controls": False},
        {"vary": {"lora_rank": [8, 16]}, "evaluations": []},  # nothing to evaluate, no model
    ],
)
def test_no_controls_when_the_plan_says_so_or_has_nothing_to_evaluate(plan):
    assert designed(**plan).controls == ()


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        ({"vary": {"lora_rank": [8, 16]}, "controls": True}, "controls: a control is the untuned base model"),
        (
            {"vary": {"lora_rank": [8, 16]}, "fixed": {"model": "Llama-3.2-1B"}, "controls": True, "evaluations": []},
            "controls: a control run only evaluates the base model",
        ),
    ],
)
def test_controls_asked_for_where_they_cannot_be_are_refused_naming_the_field(plan, problem):
    with pytest.raises(PlanError) as refused:
        designed(**plan)
    assert refused.value.message.startswith(problem)


def test_a_fine_tune_already_named_like_a_control_is_refused():
    with pytest.raises(NamingError) as refused:
        designed(vary={"model": ["Llama-3.2-1B", "Llama-3.2-3B"]}, naming={"template": "base_{model}"})
    assert "would be named 'base_1B', which a fine-tune already is" in refused.value.message


def test_a_set_recorded_before_controls_existed_still_has_none():
    record = set_record(designed(vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B"}), "0")
    del record["plan"]["controls"]
    assert experiment_set_from_record(record).controls == ()


def test_a_recorded_set_keeps_its_controls():
    experiment_set = designed(vary={"model": ["Llama-3.2-1B", "Llama-3.2-3B"]})
    assert experiment_set_from_record(set_record(experiment_set, "0")).controls == experiment_set.controls


E0, E1 = "evaluate/a/epoch_0", "evaluate/b/epoch_0"


@pytest.mark.parametrize(
    ("states", "resubmit", "todo"),
    [
        ({E0: S.NOT_SUBMITTED, E1: S.NOT_SUBMITTED}, False, [E0, E1]),
        ({E0: S.COMPLETED, E1: S.NOT_SUBMITTED}, False, [E1]),  # an evaluation added later
        ({E0: S.FAILED, E1: S.COMPLETED}, False, []),
        ({E0: S.FAILED, E1: S.COMPLETED}, True, [E0]),
        ({E0: S.PENDING, E1: S.RUNNING}, True, []),
    ],
)
def test_a_controls_evaluations_go_on_their_own_waiting_for_nothing(states, resubmit, todo):
    chosen, reason, after = plan_submission([E0, E1], states, None, resubmit=resubmit, fine_tuned=False)
    assert (chosen, after) == (todo, None) and bool(reason) == (not todo)


@pytest.mark.parametrize(
    ("evaluations", "progress"),
    [
        ([(S.NOT_SUBMITTED, False)], Progress.NOT_SUBMITTED),
        ([(S.PENDING, False)], Progress.PENDING),
        ([(S.COMPLETED, True)], Progress.COMPLETE),
        ([(S.FAILED, False)], Progress.FAILED),
    ],
)
def test_a_control_stands_where_its_evaluations_stand(evaluations, progress):
    assert run_progress(None, evaluations) is progress


def test_each_fine_tunes_difference_to_its_base_model_is_its_score_less_the_controls():
    runs = {
        "1B_r8": RunInfo("1B_r8", "fine-tuned", {"model": "1B", "lora_rank": 8}, {"model": "1B", "lora_rank": 8}),
        "3B_r8": RunInfo("3B_r8", "fine-tuned", {"model": "3B", "lora_rank": 8}, {"model": "3B", "lora_rank": 8}),
        "base_1B": RunInfo("base_1B", "control", {"model": "1B"}, {"model": "1B"}),
    }
    scores = [
        Score(Cell(run, "t", epoch), "s", "accuracy", value, 0.01, 10, "x")
        for run, epoch, value in (("1B_r8", 1, 0.7), ("3B_r8", 1, 0.9), ("base_1B", 0, 0.5))
    ]
    [difference] = differences_to_base(scores, runs)
    assert (difference.cell.run, difference.value, difference.stderr) == ("1B_r8", pytest.approx(0.2), None)


def test_a_checkpoint_to_evaluate_becomes_a_run_named_as_the_plan_names_it():
    experiment_set = designed(
        vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B"}, evaluate_only={"prior": "/ckpt/epoch_1"}
    )
    [prior] = experiment_set.evaluation_only
    assert (prior.name, prior.kind, prior.source, prior.varied) == (
        "prior",
        "evaluation-only",
        "/ckpt/epoch_1",
        {"model": "Llama-3.2-1B"},
    )
    assert [run.name for run in experiment_set.all_runs] == ["rank8", "rank16", "base", "prior"]


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        (
            {"vary": {"model": ["Llama-3.2-1B", "Llama-3.2-3B"]}, "evaluate_only": {"prior": "/c"}},
            "evaluate_only.prior.model: required here",
        ),
        (
            {"vary": {"lora_rank": [8, 16]}, "evaluate_only": {"../x": {"path": "/c", "model": "m"}}},
            "evaluate_only.../x",
        ),
    ],
)
def test_a_checkpoint_without_a_model_to_assume_or_with_an_unsafe_name_is_refused(plan, problem):
    with pytest.raises(PlanError) as refused:
        designed(**plan)
    assert refused.value.message.startswith(problem), refused.value.message


def test_a_checkpoint_named_like_another_run_is_refused():
    with pytest.raises(NamingError) as refused:
        designed(vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B"}, evaluate_only={"rank8": "/c"})
    assert "evaluate_only.rank8: another run of the set is already named 'rank8'" in refused.value.message


def test_a_relative_checkpoint_folder_is_read_from_the_plan_files_folder(tmp_path):
    from expset.plan_file import resolve_plan_paths

    data = resolve_plan_paths({"evaluate_only": {"a": "../old/epoch_1", "b": {"path": "~/x"}}}, tmp_path / "plans")
    assert data["evaluate_only"] == {"a": str(tmp_path / "old" / "epoch_1"), "b": {"path": "~/x"}}


def test_an_evaluation_only_run_loads_its_own_checkpoint_with_no_models_folder_set():
    from expset.core.run_setup import derive_run_setup
    from expset.core.site_settings import Site

    experiment_set = designed(
        vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B"}, evaluate_only={"prior": "/ckpt/epoch_1"}
    )
    [prior] = experiment_set.evaluation_only
    tasks = {"arithmetic": "/tasks.py@arithmetic"}
    setup = derive_run_setup(experiment_set, prior, site=Site(), data_path="", task_paths=tasks)
    assert (setup.kind, setup.model.folder, setup.evaluations[0].epochs) == ("evaluation-only", "/ckpt/epoch_1", [0])

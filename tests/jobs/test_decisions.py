"""The job decisions, as tables: how a job's state is settled, what of a run is submitted, and where
a run stands. Pure functions, so every branch is checked without a cluster."""

import pytest

from expset.core.jobs import JobState, Progress, plan_submission, run_progress, settle

S = JobState
FT, E0, E1 = "finetune", "evaluate/echo/epoch_0", "evaluate/echo/epoch_1"


@pytest.mark.parametrize(
    ("slurm", "exit_code", "answered", "state"),
    [
        (S.RUNNING, None, True, S.RUNNING),  # SLURM's word wins while it has one
        (S.FAILED, 0, True, S.FAILED),
        (None, 0, True, S.COMPLETED),  # forgotten: the job's record decides
        (None, 3, True, S.FAILED),
        (None, None, True, S.LOST),  # forgotten and no record
        (None, 0, False, S.COMPLETED),  # squeue failed, but the record says how it ended
        (None, None, False, S.UNKNOWN),  # squeue failed and nothing on disk: nobody knows
    ],
)
def test_a_jobs_state_is_settled_from_slurm_then_from_its_record(slurm, exit_code, answered, state):
    assert settle(slurm, exit_code, slurm_answered=answered) is state


@pytest.mark.parametrize(
    ("states", "resubmit", "todo", "waits_for"),
    [
        ({FT: S.NOT_SUBMITTED, E0: S.NOT_SUBMITTED, E1: S.NOT_SUBMITTED}, False, [FT, E0, E1], None),
        ({FT: S.PENDING, E0: S.PENDING, E1: S.PENDING}, False, [], None),
        ({FT: S.RUNNING, E0: S.PENDING, E1: S.NOT_SUBMITTED}, False, [E1], "7"),  # scaffolded later, waits
        ({FT: S.COMPLETED, E0: S.COMPLETED, E1: S.NOT_SUBMITTED}, False, [E1], None),  # goes alone
        ({FT: S.COMPLETED, E0: S.FAILED, E1: S.COMPLETED}, False, [], None),  # needs --resubmit
        ({FT: S.COMPLETED, E0: S.FAILED, E1: S.COMPLETED}, True, [E0], None),  # only what failed
        ({FT: S.LOST, E0: S.LOST, E1: S.LOST}, False, [], None),
        ({FT: S.LOST, E0: S.LOST, E1: S.LOST}, True, [FT, E0, E1], None),
        ({FT: S.FAILED, E0: S.CANCELLED, E1: S.CANCELLED}, True, [FT, E0, E1], None),
        ({FT: S.UNKNOWN, E0: S.NOT_SUBMITTED, E1: S.NOT_SUBMITTED}, True, [], None),  # never guessed
        ({FT: S.COMPLETED, E0: S.COMPLETED, E1: S.COMPLETED}, True, [], None),
    ],
)
def test_what_of_a_run_is_submitted(states, resubmit, todo, waits_for):
    chosen, reason, after = plan_submission([FT, E0, E1], states, "7", resubmit=resubmit)
    assert (chosen, after) == (todo, waits_for)
    assert bool(reason) == (not todo)


def test_nothing_is_submitted_without_saying_why():
    _, reason, _ = plan_submission([FT, E0], {FT: S.COMPLETED, E0: S.FAILED}, "7", resubmit=False)
    assert reason == "1 job(s) failed, were cancelled or lost: submit again with --resubmit"
    _, reason, _ = plan_submission([FT], {FT: S.UNKNOWN}, "7", resubmit=True)
    assert "unknown" in reason


@pytest.mark.parametrize(
    ("finetune", "evaluations", "progress"),
    [
        (S.NOT_SUBMITTED, [], Progress.NOT_SUBMITTED),
        (S.COMPLETED, [(S.COMPLETED, True), (S.COMPLETED, True)], Progress.COMPLETE),
        (S.COMPLETED, [(S.COMPLETED, True), (S.RUNNING, False)], Progress.RUNNING),
        (S.COMPLETED, [(S.FAILED, False)], Progress.FAILED),
        (S.COMPLETED, [(S.FAILED, True)], Progress.COMPLETE),  # a rerun failed, an earlier log succeeded
        (S.COMPLETED, [(S.RUNNING, True)], Progress.RUNNING),  # a rerun, or a job still ending
        (S.PENDING, [(S.PENDING, False)], Progress.PENDING),
        (S.LOST, [(S.LOST, False)], Progress.LOST),
        (S.UNKNOWN, [(S.UNKNOWN, False)], Progress.UNKNOWN),
        (S.COMPLETED, [(S.COMPLETED, False)], Progress.UNKNOWN),  # ended, but no record of a log
    ],
)
def test_where_a_run_stands(finetune, evaluations, progress):
    assert run_progress(finetune, evaluations) is progress

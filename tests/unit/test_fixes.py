"""The changes ``--fix`` makes to a setup: SLURM's time limits read and written, the batch halved at the same
effective size, the time doubled under a cap, and the file edited line by line."""

import pytest

from expset.core.fixes import Change, edit_setup, halved_batch, longer_time, seconds, time_limit
from expset.errors import SetupError


@pytest.mark.parametrize(
    ("limit", "total"),
    [("30", 1800), ("30:15", 1815), ("02:00:00", 7200), ("1-00", 86400), ("1-02:30", 95400), ("2-00:00:00", 172800)],
)
def test_every_form_of_a_slurm_time_limit_is_read(limit, total):
    assert seconds(limit) == total


def test_a_time_limit_is_written_as_slurm_reads_it():
    assert (time_limit(5400), time_limit(172800 + 61)) == ("01:30:00", "2-00:01:01")


def test_the_time_is_doubled_but_never_past_the_longest_allowed():
    assert longer_time("r", "04:00:00", None) == [Change("resources.time", "04:00:00", "08:00:00")]
    assert longer_time("r", "20:00:00", "1-00:00:00")[0].after == "1-00:00:00"
    with pytest.raises(SetupError, match="already the longest allowed"):
        longer_time("r", "1-00:00:00", "1-00:00:00")


def test_the_batch_is_halved_and_accumulation_doubled_so_each_step_sees_as_many_samples():
    changes = halved_batch("r", 8, 2, varied=set())
    assert [(c.key, c.after) for c in changes] == [
        ("training.batch_size", "4"),
        ("training.gradient_accumulation_steps", "4"),
    ]
    with pytest.raises(SetupError, match="cannot halve a batch of 1"):
        halved_batch("r", 1, 2, varied=set())


SETUP = """\
# Inputs of run r
training:
  lr: 0.0001
  batch_size: 8   # what fits on an A100
  gradient_accumulation_steps: 1
resources:
  gpus: 1
  time: "04:00:00"
"""


def test_only_the_changed_lines_change_and_a_comment_on_them_stays():
    changes = [*halved_batch("r", 8, 1, set()), *longer_time("r", "04:00:00", None)]
    assert edit_setup(SETUP, changes) == SETUP.replace("batch_size: 8 ", "batch_size: 4 ").replace(
        "accumulation_steps: 1", "accumulation_steps: 2"
    ).replace('"04:00:00"', '"08:00:00"')


def test_a_value_not_on_a_line_of_its_own_is_refused_rather_than_half_changed():
    flow = "training: {batch_size: 8, gradient_accumulation_steps: 1}\n"
    with pytest.raises(SetupError, match="not found as a line of its own"):
        edit_setup(flow, halved_batch("r", 8, 1, set()))

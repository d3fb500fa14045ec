"""Which epochs each ``--checkpoints`` choice removes, and why an unfinished fine-tune keeps its last one."""

from expset.core.cleaning import CheckpointChoice, Checkpoints, choose

LAST = CheckpointChoice.EXCEPT_LAST
EVALUATED = CheckpointChoice.EXCEPT_EVALUATED
ALL = CheckpointChoice.ALL


def test_except_last_keeps_the_highest_epoch_whatever_the_order_on_disk():
    chosen = choose(LAST, Checkpoints((2, 0, 10, 1)))
    assert (chosen.remove, chosen.keep) == ((0, 1, 2), (10,))


def test_except_evaluated_keeps_the_epochs_with_a_successful_evaluation():
    chosen = choose(EVALUATED, Checkpoints((0, 1, 2), evaluated=frozenset({1})))
    assert (chosen.remove, chosen.keep, chosen.notes) == ((0, 2), (1,), ())


def test_except_evaluated_keeps_the_epoch_an_unfinished_fine_tune_resumes_from():
    chosen = choose(EVALUATED, Checkpoints((0, 1, 2), evaluated=frozenset({0}), finished=False))
    assert (chosen.remove, chosen.keep) == ((1,), (0, 2))
    assert chosen.notes == ("epoch_2 kept: its fine-tune has not finished and resumes from it",)


def test_all_removes_every_epoch_and_says_an_unfinished_fine_tune_starts_over():
    assert choose(ALL, Checkpoints((0, 1))).remove == (0, 1)
    unfinished = choose(ALL, Checkpoints((0, 1), finished=False))
    assert unfinished.remove == (0, 1) and "starts over" in unfinished.notes[0]


def test_an_evaluation_record_of_an_epoch_not_on_disk_keeps_nothing():
    assert choose(EVALUATED, Checkpoints((0,), evaluated=frozenset({5}))).keep == ()


def test_no_epoch_on_disk_removes_nothing():
    assert choose(ALL, Checkpoints(())).remove == ()

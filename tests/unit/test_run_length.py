"""How long a fine-tune trains, and the warm-up that follows from it."""

from expset.core.models import MODELS
from expset.core.run_length import FEWEST_STEPS, run_length

MODEL = MODELS["Llama-3.2-1B-Instruct"]


def test_steps_count_full_batches_over_gpus_and_accumulation_as_torchtune_does():
    length = run_length({"batch_size": 4, "gradient_accumulation_steps": 2, "epochs": 3, "gpus": 2}, MODEL, 1000)
    assert (length.steps_per_epoch, length.total_steps) == (1000 // 16, 3 * (1000 // 16))


def test_max_steps_per_epoch_caps_each_epoch():
    length = run_length({"batch_size": 1, "epochs": 2, "max_steps_per_epoch": 10}, MODEL, 1000)
    assert (length.steps_per_epoch, length.total_steps) == (10, 20)


def test_the_default_warm_up_follows_the_run_length():
    assert run_length({"batch_size": 1}, MODEL, 1000).warmup == 30
    assert run_length({"batch_size": 1}, MODEL, 100).warmup == 3


def test_a_planned_warm_up_is_kept_and_warned_about_when_longer_than_a_third_of_training():
    length = run_length({"batch_size": 1, "lr_scheduler.num_warmup_steps": 100}, MODEL, 200)
    assert length.warmup == 100 and length.warmup_planned
    assert any("more than a third of training (200 steps)" in warning for warning in length.warnings())


def test_a_short_run_is_warned_about():
    length = run_length({"batch_size": 4}, MODEL, 4 * (FEWEST_STEPS - 1))
    assert [warning.split(" (")[0] for warning in length.warnings()] == [f"{FEWEST_STEPS - 1} optimizer steps in all"]


def test_an_unknown_data_size_leaves_the_length_unknown_and_torchtunes_warm_up():
    length = run_length({}, MODEL, None)
    assert (length.total_steps, length.warmup, length.warnings()) == (None, 100, [])

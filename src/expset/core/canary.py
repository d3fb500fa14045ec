"""Canary runs (``submit --canary``): which run of each model goes first, and what it runs. Pure.

Per model, the run that needs the most memory — the largest batch × sequence length, then LoRA rank —
fine-tunes for a few steps, and each evaluation scores a few samples of its checkpoint. Out of memory,
a missing file, a misnamed field or a broken task then shows in minutes, before the whole set has
waited in the queue for hours; the rest of the set is held by SLURM until the canaries succeed.
"""

from __future__ import annotations

from expset.core.fixes import seconds, time_limit
from expset.core.run_setup import RunSetup

CANARY_STEPS = 3
"""Optimizer steps a canary's fine-tune takes: enough to load everything, take full steps and save. Its
batches are its data's first ones: a longer sample later in the data can still need more memory."""
CANARY_SAMPLES = 2
"""Samples each of a canary's evaluations scores."""
CANARY_TIME = "01:00:00"
"""The longest a canary's job asks for: a short limit is scheduled sooner."""


def memory_weight(setup: RunSetup) -> tuple[int, int, int]:
    """How much memory a run's fine-tune needs, to compare runs of one model: batch × sequence length
    (an unset length counts as the longest), then LoRA rank, then batch."""
    length = setup.training.max_seq_len or 1 << 30
    return (setup.training.batch_size * length, setup.training.lora_rank, setup.training.batch_size)


def heaviest_runs(setups: dict[str, RunSetup]) -> dict[str, str]:
    """Model name → the run of that model whose fine-tune needs the most memory (the first, on a tie)."""
    chosen: dict[str, str] = {}
    for run, setup in setups.items():
        current = chosen.get(setup.model.name)
        if current is None or memory_weight(setup) > memory_weight(setups[current]):
            chosen[setup.model.name] = run
    return chosen


def canary_setup(setup: RunSetup) -> RunSetup:
    """The run's setup as its canary runs it: one epoch of at most ``CANARY_STEPS`` steps, each evaluation
    of that epoch only, every job's time limit at most ``CANARY_TIME``."""
    steps = min(setup.training.max_steps_per_epoch or CANARY_STEPS, CANARY_STEPS)
    training = setup.training.model_copy(update={"epochs": 1, "max_steps_per_epoch": steps})
    resources = setup.resources.model_copy(update={"time": _shorter(setup.resources.time)})
    evaluations = [
        evaluation.model_copy(
            update={
                "epochs": [0],
                "resources": evaluation.resources
                and evaluation.resources.model_copy(update={"time": _shorter(evaluation.resources.time)}),
            }
        )
        for evaluation in setup.evaluations
    ]
    return setup.model_copy(update={"training": training, "resources": resources, "evaluations": evaluations})


def _shorter(limit: str) -> str:
    return time_limit(min(seconds(limit), seconds(CANARY_TIME)))

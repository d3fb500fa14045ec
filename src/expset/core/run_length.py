"""How long a fine-tune trains, in optimizer steps, and the warm-up that follows from it.

A learning-rate sweep of short runs compares nothing if the warm-up is longer than the runs: the
default warm-up is a share of each run's steps, and a plan's proposal warns about a warm-up that
takes more than a third of training, or a run too short to learn from. Pure: the caller counts the
data's samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expset.core.models import ModelSpec
from expset.core.parameters import BY_KEY, TRAINING_KEYS

SINGLE_DEVICE_RECIPE = "lora_finetune_single_device"
DISTRIBUTED_RECIPE = "lora_finetune_distributed"
"""torchtune's LoRA recipes: the distributed one trains on more than one GPU."""

WARMUP_SHARE = 0.03
"""The default warm-up, as a share of the run's optimizer steps (Alpaca's and many recipes' 3%)."""
WARMUP_WHEN_UNKNOWN = 100
"""The warm-up when the run's length is unknown (a packed dataset): torchtune's own configs' value."""
WARMUP_PATH = "lr_scheduler.num_warmup_steps"
LONGEST_WARMUP_SHARE = 1 / 3
"""A warm-up longer than this share of training is warned about."""
FEWEST_STEPS = 50
"""A run with fewer optimizer steps than this in all is warned about."""


def kept_percent(fraction: float) -> int:
    """The whole percent of the training file that training keeps when ``fraction`` of it is held out."""
    return round(100 - 100 * fraction)


def training_samples(samples: int | None, held_out: float | None) -> int | None:
    """The samples training reads when ``held_out`` (a fraction, or None) of them are kept for validation."""
    if samples is None or held_out is None:
        return samples
    return samples * kept_percent(held_out) // 100


def training_values(parameters: dict[str, Any], model: ModelSpec) -> dict[str, Any]:
    """A run's training hyperparameters: the plan's, else the defaults (alpha twice the rank)."""
    training = {key: parameters.get(key, BY_KEY[key].default) for key in TRAINING_KEYS}
    training["lr"] = parameters.get("lr", parameters.get("learning_rate", BY_KEY["lr"].default))
    training["lora_alpha"] = parameters.get("lora_alpha", 2 * training["lora_rank"])
    training.update(device=model.device, dtype=model.dtype)
    return training


def training_gpus(parameters: dict[str, Any], model: ModelSpec) -> int:
    """The fine-tune's GPUs: the plan's, else the model's (none on CPU)."""
    return int(parameters.get("gpus", 0 if model.device == "cpu" else model.gpus))


def optimizer_steps(samples: int | None, training: dict[str, Any], gpus: int) -> tuple[int, int] | None:
    """(steps per epoch, steps in all) as torchtune counts them: full batches only (its data loader drops
    the last, partial one) over every GPU, ``gradient_accumulation_steps`` batches per step, at most
    ``max_steps_per_epoch`` per epoch. None when the data size is unknown."""
    if samples is None:
        return None
    per_step = training["batch_size"] * max(1, gpus) * training["gradient_accumulation_steps"]
    per_epoch = samples // per_step
    if training.get("max_steps_per_epoch") is not None:
        per_epoch = min(per_epoch, training["max_steps_per_epoch"])
    return per_epoch, per_epoch * training["epochs"]


def default_warmup(total_steps: int | None) -> int:
    """The warm-up a run gets when the plan sets none: a share of its steps, or torchtune's 100 when unknown."""
    return WARMUP_WHEN_UNKNOWN if total_steps is None else round(WARMUP_SHARE * total_steps)


@dataclass(frozen=True)
class RunLength:
    """A fine-tune's length: its data's samples, its optimizer steps and its warm-up."""

    samples: int | None
    steps_per_epoch: int | None
    total_steps: int | None
    warmup: int
    warmup_planned: bool  # set by the plan, not following the run's length

    def warnings(self) -> list[str]:
        """What makes the run unlikely to answer its question, one sentence each."""
        found = []
        if self.total_steps is not None and self.total_steps < FEWEST_STEPS:
            found.append(
                f"{self.total_steps} optimizer steps in all (fewer than {FEWEST_STEPS}): "
                "more data, epochs or a smaller batch give the model a chance to learn"
            )
        if self.total_steps and self.warmup > LONGEST_WARMUP_SHARE * self.total_steps:
            found.append(
                f"the warm-up ({self.warmup} steps) is more than a third of training ({self.total_steps} steps): "
                "the learning rate barely reaches its planned value — lower lr_scheduler.num_warmup_steps"
            )
        return found


def run_length(parameters: dict[str, Any], model: ModelSpec, samples: int | None) -> RunLength:
    """The length of a fine-tune with these plan ``parameters`` on ``samples`` samples (None: unknown)."""
    steps = optimizer_steps(samples, training_values(parameters, model), training_gpus(parameters, model))
    per_epoch, total = steps if steps is not None else (None, None)
    planned = parameters.get(WARMUP_PATH)
    warmup = planned if isinstance(planned, int) else default_warmup(total)
    return RunLength(samples, per_epoch, total, warmup, warmup_planned=isinstance(planned, int))

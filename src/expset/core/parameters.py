"""The well-known parameters: one row each, from which every rule about them follows.

A plan may vary or fix any parameter, but these are the ones expset knows how to apply: what kind
of value each takes and in what range (checked when the plan is read, and again when a hand-edited
``setup_finetune.yaml`` is), its default, an example for error messages, the text before its value in
run names (``rank16``) and the word for it in a set's name (``size-rank``). Adding a torchtune setting
is one row here. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["integer", "number", "boolean", "text"]
Section = Literal["model", "data", "training", "resources", "prompt", "config"]
"""Where a parameter goes; ``config``: a torchtune setting by its config path, applied last (a setup's ``settings``)."""


@dataclass(frozen=True)
class Bounds:
    """The values a number may take: above (or from) ``low``, below (or up to) ``high``."""

    low: float | None = None
    low_included: bool = True
    high: float | None = None
    high_included: bool = True

    def allows(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        if self.low is not None and (value < self.low or (value == self.low and not self.low_included)):
            return False
        return self.high is None or value < self.high or (value == self.high and self.high_included)

    def describe(self, kind: Kind) -> str:
        """``a whole number of at least 1``, ``a number above 0``, ``a number from 0 up to (not including) 1``."""
        noun = "a whole number" if kind == "integer" else "a number"
        up_to = f"up to{'' if self.high_included else ' (not including)'} {_shown(self.high)}"
        if self.low is None:
            return f"{noun} {up_to}" if self.high is not None else noun
        if self.high is not None:
            return f"{noun} from {_shown(self.low)} {up_to}"
        return f"{noun} of at least {_shown(self.low)}" if self.low_included else f"{noun} above {_shown(self.low)}"

    def field_constraints(self) -> dict[str, float]:
        """The same bounds as pydantic ``Field`` arguments (``ge``, ``gt``, ``le``, ``lt``)."""
        constraints = {}
        if self.low is not None:
            constraints["ge" if self.low_included else "gt"] = self.low
        if self.high is not None:
            constraints["le" if self.high_included else "lt"] = self.high
        return constraints


def _shown(number: float | None) -> str:
    return str(int(number)) if number is not None and float(number).is_integer() else str(number)


POSITIVE = Bounds(low=0, low_included=False)
AT_LEAST_ONE = Bounds(low=1)
AT_LEAST_ZERO = Bounds(low=0)


@dataclass(frozen=True)
class Parameter:
    """One well-known parameter of a plan's ``vary`` or ``fixed``.

    ``default`` is what a run gets when the plan does not set it (None where it follows from another
    setting or from the model); ``prefix`` stands before its value in run names (None: the key itself,
    slugged); ``set_word`` names it in a set's name when it varies (None: the key, slugged).
    """

    key: str
    kind: Kind
    section: Section
    meaning: str
    example: str
    default: Any = None
    bounds: Bounds | None = None
    prefix: str | None = None
    set_word: str | None = None
    same_as: str | None = None  # another name for the same setting
    scientific: bool = False  # written as 1e-4 in run names


PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "model",
        kind="text",
        section="model",
        meaning="the base model: a name from `expset models`, or one defined under models:",
        example="Llama-3.2-1B",
        prefix="",
    ),
    Parameter(
        "dataset", kind="text", section="data", meaning="the training data file", example="train.jsonl", prefix=""
    ),
    Parameter(
        "lr",
        kind="number",
        section="training",
        meaning="learning rate",
        example="1e-4",
        default=3e-4,
        bounds=POSITIVE,
        prefix="lr",
        set_word="lr",
        scientific=True,
    ),
    Parameter(
        "learning_rate",
        kind="number",
        section="training",
        meaning="learning rate (the same as lr)",
        example="1e-4",
        bounds=POSITIVE,
        prefix="lr",
        set_word="lr",
        same_as="lr",
        scientific=True,
    ),
    Parameter(
        "lora_rank",
        kind="integer",
        section="training",
        meaning="LoRA rank",
        example="16",
        default=8,
        bounds=AT_LEAST_ONE,
        prefix="rank",
        set_word="rank",
    ),
    Parameter(
        "lora_alpha",
        kind="integer",
        section="training",
        meaning="LoRA alpha (default: twice the rank)",
        example="32",
        bounds=POSITIVE,
        prefix="alpha",
        set_word="alpha",
    ),
    Parameter(
        "lora_dropout",
        kind="number",
        section="training",
        meaning="LoRA dropout",
        example="0.05",
        default=0.0,
        bounds=Bounds(low=0, high=1, high_included=False),
        prefix="drop",
        set_word="dropout",
    ),
    Parameter(
        "epochs",
        kind="integer",
        section="training",
        meaning="training epochs",
        example="3",
        default=1,
        bounds=AT_LEAST_ONE,
        prefix="ep",
    ),
    Parameter(
        "batch_size",
        kind="integer",
        section="training",
        meaning="batch size per device",
        example="8",
        default=4,
        bounds=AT_LEAST_ONE,
        prefix="bs",
        set_word="bs",
    ),
    Parameter(
        "gradient_accumulation_steps",
        kind="integer",
        section="training",
        meaning="gradient accumulation steps",
        example="4",
        default=1,
        bounds=AT_LEAST_ONE,
    ),
    Parameter(
        "max_seq_len",
        kind="integer",
        section="training",
        meaning="longest training sequence in tokens (default: no limit)",
        example="2048",
        bounds=AT_LEAST_ONE,
    ),
    Parameter(
        "seed",
        kind="integer",
        section="training",
        meaning="random seed",
        example="42",
        default=42,
        bounds=AT_LEAST_ZERO,
        prefix="seed",
    ),
    Parameter(
        "save_adapter_weights_only",
        kind="boolean",
        section="training",
        meaning="save only the LoRA adapter at each epoch (megabytes), which evaluations merge into the base model; "
        "false also saves merged weights, the size of the model, at every epoch",
        example="false",
        default=True,
    ),
    Parameter(
        "max_steps_per_epoch",
        kind="integer",
        section="training",
        meaning="end each epoch after this many steps (default: the whole data)",
        example="100",
        bounds=AT_LEAST_ONE,
    ),
    Parameter(
        "gpus",
        kind="integer",
        section="resources",
        meaning="GPUs of the fine-tune (default: the model's)",
        example="2",
        bounds=AT_LEAST_ZERO,
    ),
    Parameter(
        "mem",
        kind="text",
        section="resources",
        meaning="host memory of the fine-tune, as SLURM writes it (default: the model's)",
        example="64G",
    ),
    Parameter(
        "time",
        kind="text",
        section="resources",
        meaning="time limit of the fine-tune, as SLURM writes it (default: the model's)",
        example="04:00:00",
    ),
    Parameter(
        "prompt.system",
        kind="text",
        section="prompt",
        meaning="the system prompt, trained with (torchtune's new_system_prompt) and evaluated with (inspect's "
        "system message)",
        example="You are a careful assistant.",
        prefix="system-",
        set_word="system-prompt",
    ),
    Parameter(
        "prompt.template",
        kind="text",
        section="prompt",
        meaning="the text around each input, with {input} where it goes: torchtune's prompt template in training, "
        "the task's prompt_template argument in evaluation",
        example="Question: {input}\nAnswer:",
        prefix="template-",
        set_word="template",
    ),
    Parameter(
        "optimizer.weight_decay",
        kind="number",
        section="config",
        meaning="AdamW weight decay (torchtune's configs: 0.01)",
        example="0.01",
        bounds=AT_LEAST_ZERO,
        prefix="wd",
        set_word="wd",
    ),
    Parameter(
        "lr_scheduler.num_warmup_steps",
        kind="integer",
        section="config",
        meaning="learning-rate warm-up steps (default: 3% of the run's optimizer steps)",
        example="50",
        bounds=AT_LEAST_ZERO,
        prefix="warmup",
        set_word="warmup",
    ),
    Parameter(
        "clip_grad_norm",
        kind="number",
        section="config",
        meaning="gradient clipping: the largest gradient norm (default: none)",
        example="1.0",
        bounds=POSITIVE,
        prefix="clip",
        set_word="clip",
    ),
)

BY_KEY = {parameter.key: parameter for parameter in PARAMETERS}
TEMPLATE_INPUT = "{input}"
"""Where the input goes in a prompt template."""
KNOWN_KEYS = frozenset(BY_KEY)
EXPSET_KEYS = frozenset(p.key for p in PARAMETERS if p.section != "config")
"""The parameters expset applies itself; the others are torchtune settings that it knows by their path."""
NUMERIC_KEYS = frozenset(p.key for p in PARAMETERS if p.kind in ("integer", "number"))
TRAINING_KEYS = tuple(p.key for p in PARAMETERS if p.section == "training" and p.same_as is None)


def parameter(key: str) -> Parameter | None:
    """The well-known parameter called ``key``, or None for a parameter of the plan's own."""
    return BY_KEY.get(key)


def field_constraints(key: str) -> dict[str, Any]:
    """pydantic ``Field`` arguments for a setup field: the parameter's bounds and meaning."""
    known = BY_KEY[key]
    return {**(known.bounds.field_constraints() if known.bounds else {}), "description": known.meaning}


def value_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the well-known ``key``, as ``is … — key takes …``; None when it is
    fine, when ``key`` is not well known, or when it is not a number where one is due (said elsewhere)."""
    known = BY_KEY.get(key)
    if known is None:
        return None
    if known.kind == "boolean":
        return None if isinstance(value, bool) else f"is not true or false — write {key}: {known.example}"
    if key == "prompt.template" and (not isinstance(value, str) or value.count(TEMPLATE_INPUT) != 1):
        return f"must hold {TEMPLATE_INPUT} once, where each input goes — e.g. {known.example!r}"
    if known.bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not known.bounds.allows(value):
        return f"is out of range — {key} takes {known.bounds.describe(known.kind)}"
    return None

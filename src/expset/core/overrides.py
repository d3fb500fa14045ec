"""torchtune settings by their config path: which a plan may set, and how they reach the config.

A plan's ``fixed`` and ``vary`` take, beside expset's own parameters, any setting of the torchtune
LoRA recipes by its dotted path in the config (``optimizer.weight_decay``, ``lr_scheduler.num_warmup_steps``)
or its top-level name (``clip_grad_norm``, ``compile``); ``~path`` removes a setting. They are applied
last to the generated config. Paths that expset itself sets from one of its parameters, or from where a
run lives, are refused with the parameter to write instead: two ways to set one value would let the
run's name and the job disagree. Pure: tables and functions over plain data.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from expset.core.parameters import BY_KEY, EXPSET_KEYS, KNOWN_KEYS

REMOVE = "~"
"""Before a path, removes the setting from the config (torchtune's own command-line notation)."""

RECIPE_KEYS = frozenset(
    {
        "batch_size",
        "checkpointer",
        "clip_grad_norm",
        "collate_fn",
        "compile",
        "cudnn_deterministic_mode",
        "custom_sharded_layers",
        "dataset",
        "dataset_val",
        "device",
        "dtype",
        "enable_activation_checkpointing",
        "enable_activation_offloading",
        "epochs",
        "fsdp_cpu_offload",
        "fsdp_reshard_after_forward",
        "gradient_accumulation_steps",
        "log_every_n_steps",
        "log_peak_memory_stats",
        "loss",
        "low_cpu_ram",
        "lr_scheduler",
        "max_steps_per_epoch",
        "metric_logger",
        "model",
        "optimizer",
        "output_dir",
        "profile_memory",
        "profiler",
        "resume_from_checkpoint",
        "run_val_every_n_steps",
        "save_adapter_weights_only",
        "seed",
        "shuffle",
        "tokenizer",
    }
)
"""The top-level settings torchtune 0.6.1's LoRA recipes read (single device and distributed), and the two
that expset's recipe with a validation loss adds."""

MANAGED = {
    "output_dir": "the run's folder",
    "checkpointer.checkpoint_dir": "the model's folder (models: or the profile's models folder)",
    "checkpointer.output_dir": "the run's folder",
    "checkpointer.checkpoint_files": "the model's entry (models:)",
    "checkpointer.model_type": "the model's entry (models:)",
    "checkpointer._component_": "the model's entry (models:)",
    "model._component_": "the model's entry (models:)",
    "tokenizer._component_": "the model's entry (models:)",
    "tokenizer.path": "the model's entry (models:)",
    "dataset.data_files": "the dataset parameter",
    "dataset.source": "the dataset parameter",
    "dataset._component_": "data.format",
    "metric_logger.log_dir": "the run's folder",
    "dataset.split": "data.split and validation: in the plan",
    "dataset.packed": "data.packed in the plan",
    "dataset.train_on_input": "data.train_on_input in the plan",
    "dataset.column_map": "data.fields in the plan",
    "dataset.column": "data.fields in the plan",
    "dataset.conversation_column": "data.fields in the plan",
    "dataset.conversation_style": "data.conversation_style in the plan",
    "dataset.new_system_prompt": "prompt.system in the plan, which reaches the evaluations too",
    "tokenizer.prompt_template": "prompt.template in the plan, which reaches the evaluations too",
    "optimizer.params": "the recipe: the LoRA parameters",
    "lr_scheduler.num_training_steps": "the recipe: the run's length",
    "lr_scheduler.last_epoch": "the recipe: where a resumed run left off",
    "dataset_val": "validation: in the plan",
    "run_val_every_n_steps": "validation.every_n_steps in the plan",
    "device": "the model's entry (models:)",
    "dtype": "the model's entry (models:)",
}
"""Paths expset sets itself, and from what."""

KEPT = {
    "metric_logger._component_": "`expset report` reads the training log of torchtune's DiskLogger",
}
"""Paths expset keeps as they are, and why."""

CONFIG_PATHS = {
    "lr": "optimizer.lr",
    "lora_rank": "model.lora_rank",
    "lora_alpha": "model.lora_alpha",
    "lora_dropout": "model.lora_dropout",
    "max_seq_len": "tokenizer.max_seq_len",
}
"""expset parameters whose config path is not their own name."""

_PARAMETER_PATHS = {
    **{key: key for key in EXPSET_KEYS if BY_KEY[key].section == "training" and BY_KEY[key].same_as is None},
    **CONFIG_PATHS,
}
"""Each expset parameter that becomes a torchtune setting, and that setting's path."""

_PATH = re.compile(r"^~?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def is_override(key: str) -> bool:
    """Whether ``key`` names a torchtune setting (a dotted path, a removal, or a top-level recipe key)
    rather than one of expset's parameters."""
    if key in EXPSET_KEYS:
        return False
    path = key.removeprefix(REMOVE)
    return bool(_PATH.fullmatch(key)) and ("." in path or key.startswith(REMOVE) or path in RECIPE_KEYS)


def override_problem(key: str) -> str | None:
    """What is wrong with ``key`` as a torchtune setting, as ``… — fix``; None when it may be set."""
    path = key.removeprefix(REMOVE)
    if not _PATH.fullmatch(key) or path.startswith(REMOVE):
        return "is not a config path — write it as torchtune does, e.g. optimizer.weight_decay"
    top = path.split(".", 1)[0]
    if top not in RECIPE_KEYS:
        close = difflib.get_close_matches(top, sorted(RECIPE_KEYS), n=1)
        if close:
            return f"is not a setting of torchtune's LoRA recipes — did you mean {close[0]!r}?"
        return f"is not a setting of torchtune's LoRA recipes — it starts with one of {', '.join(sorted(RECIPE_KEYS))}"
    return _owner(path)


def _owner(path: str) -> str | None:
    """Why expset refuses to let a plan set ``path`` (or a setting inside it): it sets it itself; None
    when nothing does."""
    for parameter, config_path in _PARAMETER_PATHS.items():
        if _within(path, config_path):
            return f"is what expset's parameter {parameter} sets — write {parameter} instead"
    for managed, source in MANAGED.items():
        if _within(path, managed):
            return f"is set by expset from {source} — change that instead"
    for kept, reason in KEPT.items():
        if _within(path, kept):
            return f"is kept as it is: {reason}"
    held = [other for other in (*_PARAMETER_PATHS.values(), *MANAGED, *KEPT) if other.startswith(path + ".")]
    if held:
        return f"holds {held[0]}, which expset sets — set the settings you mean inside it by their own paths"
    return None


def _within(path: str, other: str) -> bool:
    return path == other or path.startswith(other + ".")


COMPONENT_ARGUMENTS = {
    "optimizer": (
        "torch.optim.AdamW",
        ("betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused"),
    ),
    "lr_scheduler": (
        "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup",
        ("num_warmup_steps", "num_cycles"),
    ),
    "loss": ("torchtune.modules.loss.CEWithChunkedOutputLoss", ("num_output_chunks", "ignore_index")),
}
"""The components expset's config builds by default, and the arguments a plan may give them: a misspelt
one would reach the component and fail the job, so it is refused when the plan reads."""


def argument_problem(key: str, components: set[str]) -> str | None:
    """What is wrong with ``key`` as an argument of a component expset builds by default; None when it is
    one, or when the plan sets that component itself (``components``: the sections whose ``_component_``
    it sets), or when ``key`` is not an argument of such a component."""
    section, _, argument = key.removeprefix(REMOVE).partition(".")
    if section not in COMPONENT_ARGUMENTS or section in components or not argument or "." in argument:
        return None
    component, arguments = COMPONENT_ARGUMENTS[section]
    if argument == "_component_" or argument in arguments:
        return None
    close = difflib.get_close_matches(argument, arguments, n=1)
    near = f"did you mean {section}.{close[0]}? " if close else ""
    return f"is not an argument of {component} — {near}it takes {', '.join(arguments)}"


def unknown_key_problem(key: str, labels: frozenset[str] | set[str]) -> str | None:
    """Why a plan cannot take ``key`` in vary or fixed; None for expset's parameters, torchtune settings
    and the plan's own labels. A near miss of a known name gets a "did you mean"."""
    if key in EXPSET_KEYS or key in labels:
        return None
    if is_override(key):
        return override_problem(key)
    close = difflib.get_close_matches(key, sorted(KNOWN_KEYS | RECIPE_KEYS), n=1, cutoff=0.7)
    if close:
        return f"is not a setting expset knows — did you mean {close[0]!r}?"
    return (
        "is not a setting expset knows — write a torchtune setting by its config path (optimizer.weight_decay), "
        f"or declare a parameter of your own under labels: ({key}: what it means)"
    )


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``config`` with each override set (``a.b: value``) or removed (``~a.b``), in order; a copy."""
    result = _copy(config)
    for key, value in overrides.items():
        path = key.removeprefix(REMOVE).split(".")
        section = result
        for part in path[:-1]:
            inner = section.get(part)
            if not isinstance(inner, dict):
                if key.startswith(REMOVE):
                    break
                inner = section[part] = {}
            section = inner
        else:
            if key.startswith(REMOVE):
                section.pop(path[-1], None)
            else:
                section[path[-1]] = value
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value

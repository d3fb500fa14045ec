"""A run's torchtune LoRA config (``finetune.yaml``), derived from its setup as data.

The config follows torchtune 0.6.1's own LoRA recipes' configs. ``output_dir`` is the run folder,
so checkpoints land in ``<run>/epoch_0/``, ``epoch_1/`` …, and logs in ``<run>/logs/``.
No torchtune import: this is plain data, dumped as YAML.

torchtune reads the file with OmegaConf, which takes ``${…}`` in any text for an interpolation
(``${oc.env:TOKEN}`` reads the environment) and ``???`` for a missing value. Text from the setup is
escaped for it (``omegaconf_text``), so torchtune receives what ``setup_finetune.yaml`` says;
expset's own interpolations (``${output_dir}``) are ``Reference`` values and are written as they are.
"""

from __future__ import annotations

import re
from typing import Any

from expset.core.layout import CONFIG_FILE, LOG_DIR, SETUP_FILE, SINGLE_DEVICE_RECIPE_FILE
from expset.core.overrides import apply_overrides
from expset.core.run_setup import DISTRIBUTED_RECIPE, RunSetup
from expset.render.yaml_text import to_yaml

DATASET_BUILDERS = {
    "instruct": "torchtune.datasets.instruct_dataset",
    "chat": "torchtune.datasets.chat_dataset",
    "text": "torchtune.datasets.text_completion_dataset",
}

COMPONENT_RESOLUTIONS = 2
"""How many times torchtune resolves the arguments of a component (a mapping with ``_component_``):
``config.instantiate`` resolves the config in place (``OmegaConf.resolve``), which stores an escaped
``${`` as a live one, then converts it (``OmegaConf.to_object``), which resolves it again. Other
settings are read once. Text read both ways (``model.lora_attn_modules``, ``checkpointer.model_type``)
is escaped for two: read once, it keeps one escape and still never reads the environment."""

CONFIG_CREATIONS = 2
"""How many times torchtune builds the config from plain values before a recipe reads it: ``config.parse``
loads the file (``OmegaConf.load``), takes its plain content (``to_container``) and creates the config
from that again. OmegaConf 2.4 takes one backslash off ``\\???`` each time it creates a value."""

_INTERPOLATION = re.compile(r"(\\*)\$\{")
_MISSING = re.compile(r"\\*\?\?\?")


class Reference(str):
    """An OmegaConf interpolation expset writes on purpose, such as ``${output_dir}``: written as is."""


def omegaconf_text(text: str, resolutions: int = 1) -> str:
    """``text`` escaped so that OmegaConf, resolving it ``resolutions`` times, gives ``text`` back.

    OmegaConf's rules: ``${`` after *n* backslashes reads as *n*/2 backslashes and an interpolation
    when *n* is even, and as (*n* - 1)/2 backslashes and the text ``${`` when *n* is odd; backslashes
    anywhere else are kept. Each resolution takes off one level of these escapes. Independently,
    OmegaConf 2.4 reads ``???`` as a missing value, and backslashes followed by ``???`` (nothing
    else) with one backslash less, each time it creates a value from text (``CONFIG_CREATIONS``).
    """
    if "${" not in text and not text.endswith("???"):
        return text
    for _ in range(resolutions):
        text = _INTERPOLATION.sub(lambda match: "\\" * (2 * len(match.group(1)) + 1) + "${", text)
    if _MISSING.fullmatch(text):
        text = "\\" * CONFIG_CREATIONS + text
    return text


def for_omegaconf(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every text escaped for the number of times torchtune resolves it."""
    return {
        key: _escaped(value, COMPONENT_RESOLUTIONS if isinstance(value, dict) and "_component_" in value else 1)
        for key, value in config.items()
    }


def _escaped(value: Any, resolutions: int) -> Any:
    if isinstance(value, Reference):
        return str(value)
    if isinstance(value, str):
        return omegaconf_text(value, resolutions)
    if isinstance(value, dict):
        return {key: _escaped(item, resolutions) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item, resolutions) for item in value]
    return value


def finetune_config(setup: RunSetup, run_dir: str) -> dict[str, Any]:
    """The torchtune config for ``setup``'s fine-tune, writing into ``run_dir``: torchtune's own LoRA
    config, the validation data when the run has it, then the setup's ``settings`` by config path, applied last."""
    config = _base_config(setup, run_dir)
    if setup.validation is not None:
        validation = setup.validation
        config["dataset_val"] = {**dataset_section(setup), "data_files": validation.path, "split": validation.split}
        config["run_val_every_n_steps"] = validation.every_n_steps
    return apply_overrides(config, setup.settings)


def _base_config(setup: RunSetup, run_dir: str) -> dict[str, Any]:
    model, training = setup.model, setup.training
    model_section: dict[str, Any] = {
        "_component_": model.builder,
        **model.builder_args,
        "lora_attn_modules": list(model.lora_attn_modules),
        "apply_lora_to_mlp": model.apply_lora_to_mlp,
    }
    if model.apply_lora_to_output is not None:
        model_section["apply_lora_to_output"] = model.apply_lora_to_output
    model_section.update(
        lora_rank=training.lora_rank, lora_alpha=training.lora_alpha, lora_dropout=training.lora_dropout
    )
    on_gpu = training.device == "cuda"
    return {
        "output_dir": run_dir,
        "model": model_section,
        "tokenizer": {
            "_component_": model.tokenizer,
            **{argument: f"{model.folder}/{file}" for argument, file in model.tokenizer_files.items()},
            "max_seq_len": training.max_seq_len,
            **_prompt_template(setup),
        },
        "checkpointer": {
            "_component_": model.checkpointer,
            "checkpoint_dir": model.folder,
            "checkpoint_files": model.checkpoint_files,
            "recipe_checkpoint": None,
            "output_dir": Reference("${output_dir}"),
            "model_type": model.model_type,
        },
        "resume_from_checkpoint": False,
        "save_adapter_weights_only": training.save_adapter_weights_only,
        "dataset": dataset_section(setup),
        "seed": training.seed,
        "shuffle": True,
        "batch_size": training.batch_size,
        "optimizer": {"_component_": "torch.optim.AdamW", "fused": on_gpu, "weight_decay": 0.01, "lr": training.lr},
        "lr_scheduler": {
            "_component_": "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup",
            "num_warmup_steps": 100,
        },
        "loss": {"_component_": "torchtune.modules.loss.CEWithChunkedOutputLoss"},
        "epochs": training.epochs,
        "max_steps_per_epoch": training.max_steps_per_epoch,
        "gradient_accumulation_steps": training.gradient_accumulation_steps,
        "clip_grad_norm": None,
        "compile": False,
        "metric_logger": {
            "_component_": "torchtune.training.metric_logging.DiskLogger",
            "log_dir": Reference(f"${{output_dir}}/{LOG_DIR}"),
        },
        "log_every_n_steps": 1,
        "log_peak_memory_stats": on_gpu,
        "device": training.device,
        "dtype": training.dtype,
        "enable_activation_checkpointing": False,
        "enable_activation_offloading": False,
        "profiler": {"_component_": "torchtune.training.setup_torch_profiler", "enabled": False},
    }


def dataset_section(setup: RunSetup) -> dict[str, Any]:
    """torchtune's dataset builder for a local JSON or JSONL file in the plan's format."""
    data = setup.data
    section: dict[str, Any] = {
        "_component_": DATASET_BUILDERS[data.format],
        "source": "json",
        "data_files": data.path,
        "split": data.split,
        "packed": data.packed,
    }
    if data.format == "instruct":
        section["train_on_input"] = data.train_on_input
        if data.fields:
            section["column_map"] = dict(data.fields)
    elif data.format == "chat":
        section["conversation_column"] = data.fields.get("messages", "messages")
        section["conversation_style"] = data.conversation_style
        section["train_on_input"] = data.train_on_input
    else:
        section["column"] = data.fields.get("text", "text")
    if setup.prompt.system is not None:
        section["new_system_prompt"] = setup.prompt.system
    return section


def _prompt_template(setup: RunSetup) -> dict[str, Any]:
    """torchtune's custom prompt template for the plan's ``prompt.template``: the text before and after
    each user message; nothing when the plan gives no template (the tokenizer's own applies)."""
    parts = setup.prompt.parts()
    return {} if parts is None else {"prompt_template": {"user": list(parts)}}


def render_finetune_config(setup: RunSetup, run_dir: str) -> str:
    """The text of a run's ``finetune.yaml``: its torchtune config, escaped for OmegaConf."""
    header = (
        f"# torchtune LoRA config of run {setup.run}, written by expset from\n"
        f"# {SETUP_FILE}: edit that file and re-run `expset scaffold`, not this one.\n"
        + (
            f"# Run: tune run --nproc_per_node {setup.resources.gpus} {setup.recipe} --config {CONFIG_FILE}\n"
            if setup.recipe == DISTRIBUTED_RECIPE
            else f"# Run: python {SINGLE_DEVICE_RECIPE_FILE} --config {CONFIG_FILE}\n"
        )
    )
    return header + to_yaml(for_omegaconf(finetune_config(setup, run_dir)))

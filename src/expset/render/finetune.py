"""A run's torchtune LoRA config (``finetune.yaml``), derived from its setup as data.

The config follows torchtune 0.6.1's own LoRA recipes' configs. ``output_dir`` is the run folder,
so checkpoints land in ``<run>/epoch_0/``, ``epoch_1/`` …, and logs in ``<run>/logs/``.
No torchtune import: this is plain data, dumped as YAML.
"""

from __future__ import annotations

from typing import Any

from expset.core.setup import RunSetup
from expset.render.yaml_text import to_yaml

DATASET_BUILDERS = {
    "instruct": "torchtune.datasets.instruct_dataset",
    "chat": "torchtune.datasets.chat_dataset",
    "text": "torchtune.datasets.text_completion_dataset",
}


def finetune_config(setup: RunSetup) -> dict[str, Any]:
    """The torchtune config for ``setup``'s fine-tune."""
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
        "output_dir": setup.run_dir,
        "model": model_section,
        "tokenizer": {
            "_component_": model.tokenizer,
            **{argument: f"{model.folder}/{file}" for argument, file in model.tokenizer_files.items()},
            "max_seq_len": training.max_seq_len,
        },
        "checkpointer": {
            "_component_": model.checkpointer,
            "checkpoint_dir": model.folder,
            "checkpoint_files": model.checkpoint_files,
            "recipe_checkpoint": None,
            "output_dir": "${output_dir}",
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
            "log_dir": "${output_dir}/logs",
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
    return section


def render_finetune_config(setup: RunSetup) -> str:
    header = (
        f"# torchtune LoRA config of run {setup.run} (set {setup.set}), written by expset from\n"
        "# setup_finetune.yaml: edit that file and re-run `expset scaffold`, not this one.\n"
        f"# Run: tune run {setup.recipe} --config finetune.yaml\n"
    )
    return header + to_yaml(finetune_config(setup))

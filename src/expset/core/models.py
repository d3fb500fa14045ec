"""The table of models researchers fine-tune with torchtune, as data.

Naming reads family and size (``Llama-3.2-3B-Instruct`` → ``3B`` or ``llama3.2_3B``); scaffolding
reads the rest: the torchtune LoRA builder, tokenizer, checkpoint files, model type and default
resources. Entries follow torchtune 0.6.1's own LoRA configs. Pure data, no imports of torchtune.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HF_CHECKPOINTER = "torchtune.training.FullModelHFCheckpointer"
LLAMA3_TOKENIZER = "torchtune.models.llama3.llama3_tokenizer"
QWEN2_5_TOKENIZER = "torchtune.models.qwen2_5.qwen2_5_tokenizer"
LLAMA3_FILES = {"path": "original/tokenizer.model"}
QWEN_FILES = {"path": "vocab.json", "merges_file": "merges.txt"}
SENTENCEPIECE_FILES = {"path": "tokenizer.model"}
LORA_ATTENTION = ("q_proj", "v_proj", "output_proj")


def shards(count: int, prefix: str = "model", suffix: str = "safetensors") -> tuple[str, ...]:
    """Hugging Face shard names: ``model-00001-of-00002.safetensors``, …"""
    return tuple(f"{prefix}-{i:05d}-of-{count:05d}.{suffix}" for i in range(1, count + 1))


@dataclass(frozen=True)
class ModelInfo:
    """One model: how it is named, how torchtune builds and loads it, what it needs to train."""

    name: str  # the identifier researchers write, as on the model hub
    family: str  # short family label used in run names: ``llama3.2``, ``qwen2.5``
    size: str  # parameter count as written in names: ``1B``, ``0.5B``
    variant: str  # ``base`` or ``instruct``
    builder: str  # torchtune LoRA model builder
    tokenizer: str  # torchtune tokenizer component
    tokenizer_files: dict[str, str]  # tokenizer argument → file relative to the model folder
    checkpoint_files: tuple[str, ...] | dict[str, str]  # file list, or torchtune's filename_format form
    model_type: str  # torchtune checkpointer model_type
    gpus: int  # default GPUs for a LoRA fine-tune
    gpu_memory_gb: int  # GPU memory the fine-tune needs; host memory is set to the same
    time: str  # default SLURM time limit
    checkpointer: str = HF_CHECKPOINTER
    lora_attn_modules: tuple[str, ...] = LORA_ATTENTION
    apply_lora_to_mlp: bool = True
    apply_lora_to_output: bool | None = None  # None: the builder has no such argument
    builder_args: dict[str, Any] = field(default_factory=dict)  # extra builder arguments (custom models)

    @property
    def label(self) -> str:
        """Family and size, the short model label: ``llama3.2_1B``."""
        return f"{self.family}_{self.size}"


def _llama(
    name: str,
    family: str,
    size: str,
    variant: str,
    builder: str,
    files: Any,
    model_type: str,
    gpus: int,
    memory: int,
    time: str,
    output: bool | None = None,
) -> ModelInfo:
    return ModelInfo(
        name,
        family,
        size,
        variant,
        builder,
        LLAMA3_TOKENIZER,
        LLAMA3_FILES,
        files,
        model_type,
        gpus,
        memory,
        time,
        apply_lora_to_output=output,
    )


def _qwen(
    name: str, size: str, variant: str, builder: str, files: Any, memory: int, time: str, output: bool | None = None
) -> ModelInfo:
    return ModelInfo(
        name,
        "qwen2.5",
        size,
        variant,
        builder,
        QWEN2_5_TOKENIZER,
        QWEN_FILES,
        files,
        "QWEN2",
        1,
        memory,
        time,
        apply_lora_to_output=output,
    )


_L32 = "torchtune.models.llama3_2."
_L31 = "torchtune.models.llama3_1."
_Q = "torchtune.models.qwen2_5."
_MISTRAL = "torchtune.models.mistral."
_GEMMA2 = "torchtune.models.gemma2."

MODELS: tuple[ModelInfo, ...] = (
    _llama(
        "Llama-3.2-1B",
        "llama3.2",
        "1B",
        "base",
        _L32 + "lora_llama3_2_1b",
        ("model.safetensors",),
        "LLAMA3_2",
        1,
        24,
        "01:00:00",
    ),
    _llama(
        "Llama-3.2-1B-Instruct",
        "llama3.2",
        "1B",
        "instruct",
        _L32 + "lora_llama3_2_1b",
        ("model.safetensors",),
        "LLAMA3_2",
        1,
        24,
        "01:00:00",
    ),
    _llama(
        "Llama-3.2-3B", "llama3.2", "3B", "base", _L32 + "lora_llama3_2_3b", shards(2), "LLAMA3_2", 1, 40, "02:00:00"
    ),
    _llama(
        "Llama-3.2-3B-Instruct",
        "llama3.2",
        "3B",
        "instruct",
        _L32 + "lora_llama3_2_3b",
        shards(2),
        "LLAMA3_2",
        1,
        40,
        "02:00:00",
    ),
    _llama(
        "Llama-3.1-8B",
        "llama3.1",
        "8B",
        "base",
        _L31 + "lora_llama3_1_8b",
        shards(4),
        "LLAMA3",
        1,
        80,
        "04:00:00",
        output=False,
    ),
    _llama(
        "Llama-3.1-8B-Instruct",
        "llama3.1",
        "8B",
        "instruct",
        _L31 + "lora_llama3_1_8b",
        shards(4),
        "LLAMA3",
        1,
        80,
        "04:00:00",
        output=False,
    ),
    _llama(
        "Llama-3.3-70B-Instruct",
        "llama3.3",
        "70B",
        "instruct",
        "torchtune.models.llama3_3.lora_llama3_3_70b",
        {"filename_format": "model-{}-of-{}.safetensors", "max_filename": "00030"},
        "LLAMA3",
        8,
        640,
        "12:00:00",
        output=False,
    ),
    _qwen("Qwen2.5-0.5B", "0.5B", "base", _Q + "lora_qwen2_5_0_5b", ("model.safetensors",), 16, "01:00:00"),
    _qwen(
        "Qwen2.5-0.5B-Instruct", "0.5B", "instruct", _Q + "lora_qwen2_5_0_5b", ("model.safetensors",), 16, "01:00:00"
    ),
    _qwen("Qwen2.5-1.5B", "1.5B", "base", _Q + "lora_qwen2_5_1_5b_base", ("model.safetensors",), 24, "01:00:00"),
    _qwen(
        "Qwen2.5-1.5B-Instruct",
        "1.5B",
        "instruct",
        _Q + "lora_qwen2_5_1_5b_instruct",
        ("model.safetensors",),
        24,
        "01:00:00",
    ),
    _qwen("Qwen2.5-3B", "3B", "base", _Q + "lora_qwen2_5_3b", shards(2), 40, "02:00:00"),
    _qwen("Qwen2.5-3B-Instruct", "3B", "instruct", _Q + "lora_qwen2_5_3b", shards(2), 40, "02:00:00"),
    _qwen("Qwen2.5-7B", "7B", "base", _Q + "lora_qwen2_5_7b_base", shards(4), 80, "04:00:00", output=False),
    _qwen(
        "Qwen2.5-7B-Instruct",
        "7B",
        "instruct",
        _Q + "lora_qwen2_5_7b_instruct",
        shards(4),
        80,
        "04:00:00",
        output=False,
    ),
    ModelInfo(
        "Mistral-7B-v0.1",
        "mistral",
        "7B",
        "base",
        _MISTRAL + "lora_mistral_7b",
        _MISTRAL + "mistral_tokenizer",
        SENTENCEPIECE_FILES,
        shards(2),
        "MISTRAL",
        1,
        80,
        "04:00:00",
        apply_lora_to_output=True,
    ),
    ModelInfo(
        "Mistral-7B-Instruct-v0.2",
        "mistral",
        "7B",
        "instruct",
        _MISTRAL + "lora_mistral_7b",
        _MISTRAL + "mistral_tokenizer",
        SENTENCEPIECE_FILES,
        shards(3),
        "MISTRAL",
        1,
        80,
        "04:00:00",
        apply_lora_to_output=True,
    ),
    ModelInfo(
        "gemma-2-2b",
        "gemma2",
        "2B",
        "base",
        _GEMMA2 + "lora_gemma2_2b",
        "torchtune.models.gemma.gemma_tokenizer",
        SENTENCEPIECE_FILES,
        shards(3),
        "GEMMA2",
        1,
        40,
        "02:00:00",
    ),
    ModelInfo(
        "gemma-2-9b",
        "gemma2",
        "9B",
        "base",
        _GEMMA2 + "lora_gemma2_9b",
        "torchtune.models.gemma.gemma_tokenizer",
        SENTENCEPIECE_FILES,
        {"filename_format": "model-{}-of-{}.safetensors", "max_filename": "00008"},
        "GEMMA2",
        1,
        80,
        "04:00:00",
    ),
)

_BY_KEY = {m.name.lower(): m for m in MODELS}
_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)[bB](?![A-Za-z0-9])")


def lookup_model(identifier: str) -> ModelInfo | None:
    """The table entry for ``identifier`` (a name, or a hub id such as ``meta-llama/Llama-3.2-1B``)."""
    key = identifier.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    return _BY_KEY.get(key)


def guess_size(identifier: str) -> str | None:
    """The size written in a model name the table lacks (``my-llama-13b-v2`` → ``13B``), if any."""
    sizes = _SIZE.findall(identifier.rsplit("/", 1)[-1])
    return f"{sizes[0]}B" if len(sizes) == 1 else None

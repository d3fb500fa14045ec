"""The models researchers fine-tune with torchtune: one schema for the built-in table and a plan's ``models:``.

Naming reads family and size (``Llama-3.2-3B-Instruct`` → ``3B`` or ``llama3.2_3B``); scaffolding
reads the rest: the torchtune LoRA builder, tokenizer, checkpoint files, model type and default
resources. Entries follow torchtune 0.6.1's own LoRA configs. Pure data, no imports of torchtune.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from expset.core.sections import ConstantValue
from expset.core.values import ANCHORED

HF_CHECKPOINTER = "torchtune.training.FullModelHFCheckpointer"
LLAMA3_TOKENIZER = "torchtune.models.llama3.llama3_tokenizer"
QWEN2_5_TOKENIZER = "torchtune.models.qwen2_5.qwen2_5_tokenizer"
LLAMA3_FILES = {"path": "original/tokenizer.model"}
QWEN_FILES = {"path": "vocab.json", "merges_file": "merges.txt"}
SENTENCEPIECE_FILES = {"path": "tokenizer.model"}


def shards(count: int, prefix: str = "model", suffix: str = "safetensors") -> list[str]:
    """Hugging Face shard names: ``model-00001-of-00002.safetensors``, …"""
    return [f"{prefix}-{i:05d}-of-{count:05d}.{suffix}" for i in range(1, count + 1)]


class ModelBuild(BaseModel):
    """How torchtune builds and loads a model: what a run's setup carries into its config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    builder: str = Field(description="torchtune LoRA builder, e.g. torchtune.models.llama3_2.lora_llama3_2_1b.")
    builder_args: dict[str, ConstantValue] = Field(default_factory=dict, description="Extra builder arguments.")
    tokenizer: str = Field(description="torchtune tokenizer component.")
    tokenizer_files: dict[str, str] = Field(description="Tokenizer argument → file in the model folder.")
    checkpointer: str = Field(default=HF_CHECKPOINTER, description="torchtune checkpointer component.")
    checkpoint_files: Annotated[list[str], Field(min_length=1)] | Annotated[dict[str, str], Field(min_length=1)] = (
        Field(description="Checkpoint files in the model folder, or torchtune's {filename_format, max_filename}.")
    )
    model_type: str = Field(description="torchtune model_type, e.g. LLAMA3_2, QWEN2.")
    lora_attn_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "v_proj", "output_proj"], description="Attention layers LoRA adapts."
    )
    apply_lora_to_mlp: bool = Field(default=True, description="Adapt the MLP layers too.")
    apply_lora_to_output: bool | None = Field(
        default=None, description="Adapt the output layer (leave unset where the builder has no such argument)."
    )


class ModelSpec(ModelBuild):
    """A model expset can fine-tune: an entry of the built-in table, or of a plan's ``models:``."""

    folder: str | None = Field(
        default=None,
        description="The checkpoint folder: absolute, or relative to the models folder (default: the model's name).",
    )
    device: Literal["cuda", "cpu"] = Field(default="cuda", description="Where the fine-tune runs.")
    dtype: Literal["bf16", "fp32", "fp16"] = Field(default="bf16", description="The training precision.")
    gpus: int = Field(default=1, ge=0, description="GPUs of a LoRA fine-tune.")
    gpu_memory_gb: int = Field(default=16, ge=1, description="GPU memory the fine-tune needs; host memory is the same.")
    time: str = Field(default="01:00:00", description="Default SLURM time limit of the fine-tune.")
    family: str | None = Field(default=None, description="Short family label in run names, e.g. llama3.2.")
    size: str | None = Field(default=None, description="Parameter count as written in names, e.g. 1B.")
    variant: Literal["base", "instruct"] | None = Field(default=None, description="Base or instruction-tuned.")

    @property
    def label(self) -> str | None:
        """Family and size, the short model label: ``llama3.2_1B``; None when either is unknown."""
        return f"{self.family}_{self.size}" if self.family and self.size else None


MODELS: dict[str, ModelSpec] = {
    "Llama-3.2-1B": ModelSpec(
        family="llama3.2",
        size="1B",
        variant="base",
        builder="torchtune.models.llama3_2.lora_llama3_2_1b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files=["model.safetensors"],
        model_type="LLAMA3_2",
        gpus=1,
        gpu_memory_gb=24,
        time="01:00:00",
    ),
    "Llama-3.2-1B-Instruct": ModelSpec(
        family="llama3.2",
        size="1B",
        variant="instruct",
        builder="torchtune.models.llama3_2.lora_llama3_2_1b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files=["model.safetensors"],
        model_type="LLAMA3_2",
        gpus=1,
        gpu_memory_gb=24,
        time="01:00:00",
    ),
    "Llama-3.2-3B": ModelSpec(
        family="llama3.2",
        size="3B",
        variant="base",
        builder="torchtune.models.llama3_2.lora_llama3_2_3b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files=shards(2),
        model_type="LLAMA3_2",
        gpus=1,
        gpu_memory_gb=40,
        time="02:00:00",
    ),
    "Llama-3.2-3B-Instruct": ModelSpec(
        family="llama3.2",
        size="3B",
        variant="instruct",
        builder="torchtune.models.llama3_2.lora_llama3_2_3b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files=shards(2),
        model_type="LLAMA3_2",
        gpus=1,
        gpu_memory_gb=40,
        time="02:00:00",
    ),
    "Llama-3.1-8B": ModelSpec(
        family="llama3.1",
        size="8B",
        variant="base",
        builder="torchtune.models.llama3_1.lora_llama3_1_8b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files=shards(4),
        model_type="LLAMA3",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
        apply_lora_to_output=False,
    ),
    "Llama-3.1-8B-Instruct": ModelSpec(
        family="llama3.1",
        size="8B",
        variant="instruct",
        builder="torchtune.models.llama3_1.lora_llama3_1_8b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files=shards(4),
        model_type="LLAMA3",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
        apply_lora_to_output=False,
    ),
    "Llama-3.3-70B-Instruct": ModelSpec(
        family="llama3.3",
        size="70B",
        variant="instruct",
        builder="torchtune.models.llama3_3.lora_llama3_3_70b",
        tokenizer=LLAMA3_TOKENIZER,
        tokenizer_files=LLAMA3_FILES,
        checkpoint_files={"filename_format": "model-{}-of-{}.safetensors", "max_filename": "00030"},
        model_type="LLAMA3",
        gpus=8,
        gpu_memory_gb=640,
        time="12:00:00",
        apply_lora_to_output=False,
    ),
    "Qwen2.5-0.5B": ModelSpec(
        family="qwen2.5",
        size="0.5B",
        variant="base",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_0_5b",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=["model.safetensors"],
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=16,
        time="01:00:00",
    ),
    "Qwen2.5-0.5B-Instruct": ModelSpec(
        family="qwen2.5",
        size="0.5B",
        variant="instruct",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_0_5b",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=["model.safetensors"],
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=16,
        time="01:00:00",
    ),
    "Qwen2.5-1.5B": ModelSpec(
        family="qwen2.5",
        size="1.5B",
        variant="base",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_1_5b_base",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=["model.safetensors"],
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=24,
        time="01:00:00",
    ),
    "Qwen2.5-1.5B-Instruct": ModelSpec(
        family="qwen2.5",
        size="1.5B",
        variant="instruct",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_1_5b_instruct",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=["model.safetensors"],
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=24,
        time="01:00:00",
    ),
    "Qwen2.5-3B": ModelSpec(
        family="qwen2.5",
        size="3B",
        variant="base",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_3b",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=shards(2),
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=40,
        time="02:00:00",
    ),
    "Qwen2.5-3B-Instruct": ModelSpec(
        family="qwen2.5",
        size="3B",
        variant="instruct",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_3b",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=shards(2),
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=40,
        time="02:00:00",
    ),
    "Qwen2.5-7B": ModelSpec(
        family="qwen2.5",
        size="7B",
        variant="base",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_7b_base",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=shards(4),
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
        apply_lora_to_output=False,
    ),
    "Qwen2.5-7B-Instruct": ModelSpec(
        family="qwen2.5",
        size="7B",
        variant="instruct",
        builder="torchtune.models.qwen2_5.lora_qwen2_5_7b_instruct",
        tokenizer=QWEN2_5_TOKENIZER,
        tokenizer_files=QWEN_FILES,
        checkpoint_files=shards(4),
        model_type="QWEN2",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
        apply_lora_to_output=False,
    ),
    "Mistral-7B-v0.1": ModelSpec(
        family="mistral",
        size="7B",
        variant="base",
        builder="torchtune.models.mistral.lora_mistral_7b",
        tokenizer="torchtune.models.mistral.mistral_tokenizer",
        tokenizer_files=SENTENCEPIECE_FILES,
        checkpoint_files=shards(2),
        model_type="MISTRAL",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
        apply_lora_to_output=True,
    ),
    "Mistral-7B-Instruct-v0.2": ModelSpec(
        family="mistral",
        size="7B",
        variant="instruct",
        builder="torchtune.models.mistral.lora_mistral_7b",
        tokenizer="torchtune.models.mistral.mistral_tokenizer",
        tokenizer_files=SENTENCEPIECE_FILES,
        checkpoint_files=shards(3),
        model_type="MISTRAL",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
        apply_lora_to_output=True,
    ),
    "gemma-2-2b": ModelSpec(
        family="gemma2",
        size="2B",
        variant="base",
        builder="torchtune.models.gemma2.lora_gemma2_2b",
        tokenizer="torchtune.models.gemma.gemma_tokenizer",
        tokenizer_files=SENTENCEPIECE_FILES,
        checkpoint_files=shards(3),
        model_type="GEMMA2",
        gpus=1,
        gpu_memory_gb=40,
        time="02:00:00",
    ),
    "gemma-2-9b": ModelSpec(
        family="gemma2",
        size="9B",
        variant="base",
        builder="torchtune.models.gemma2.lora_gemma2_9b",
        tokenizer="torchtune.models.gemma.gemma_tokenizer",
        tokenizer_files=SENTENCEPIECE_FILES,
        checkpoint_files={"filename_format": "model-{}-of-{}.safetensors", "max_filename": "00008"},
        model_type="GEMMA2",
        gpus=1,
        gpu_memory_gb=80,
        time="04:00:00",
    ),
}
"""The built-in table, by the name researchers write (as on the model hub)."""

_BY_KEY = {name.lower(): spec for name, spec in MODELS.items()}
_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)[bB](?![A-Za-z0-9])")


def lookup_model(identifier: str) -> ModelSpec | None:
    """The table entry for ``identifier`` (a name, or a hub id such as ``meta-llama/Llama-3.2-1B``)."""
    key = identifier.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    return _BY_KEY.get(key)


def find_model(name: str, plan_models: Mapping[str, ModelSpec]) -> ModelSpec | None:
    """The plan's own model called ``name``, else the built-in table's, else None."""
    return plan_models.get(name) or lookup_model(name)


def checkpoint_folder(name: str, model: ModelSpec, models_folder: str | None) -> str | None:
    """Where model ``name``'s checkpoint is, before ``~`` and ``$VAR`` are expanded: its folder when that is
    anchored (absolute, home, a variable), else under ``models_folder`` (the model's name when it gives no
    folder); None when it takes a models folder and none is set."""
    folder = model.folder or name
    if folder.startswith(ANCHORED):
        return folder
    return f"{models_folder.rstrip('/')}/{folder}" if models_folder else None


def guess_size(identifier: str) -> str | None:
    """The size written in a model name the table lacks (``my-llama-13b-v2`` → ``13B``), if any."""
    sizes = _SIZE.findall(identifier.rsplit("/", 1)[-1])
    return f"{sizes[0]}B" if len(sizes) == 1 else None


BYTES_PER_WEIGHT = {"bf16": 2, "fp16": 2, "fp32": 4}


def nominal_weight_bytes(model: ModelSpec) -> int | None:
    """The size of the model's weights from its nominal size and precision (``1B`` in bf16: 2 GB); None
    when its size is not written as a number of billions."""
    if model.size is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)[bB]", model.size)
    return None if match is None else int(float(match.group(1)) * 1e9 * BYTES_PER_WEIGHT[model.dtype])

"""The table of models researchers fine-tune, as data: name → family, size, variant.

Naming reads it to turn ``Llama-3.2-3B-Instruct`` into ``3B`` or ``llama3.2_3B``; later stages add
training details (builders, tokenizers, resources) to the same entries. Pure data, no imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    """What naming needs to know about one model."""

    name: str  # the identifier researchers write, as on the model hub
    family: str  # short family label used in run names: ``llama3.2``, ``qwen2.5``
    size: str  # parameter count as written in names: ``1B``, ``0.5B``
    variant: str  # ``base`` or ``instruct``

    @property
    def label(self) -> str:
        """Family and size, the short model label: ``llama3.2_1B``."""
        return f"{self.family}_{self.size}"


def _model(name: str, family: str, size: str, variant: str) -> ModelInfo:
    return ModelInfo(name=name, family=family, size=size, variant=variant)


MODELS: tuple[ModelInfo, ...] = (
    _model("Llama-3.2-1B", "llama3.2", "1B", "base"),
    _model("Llama-3.2-1B-Instruct", "llama3.2", "1B", "instruct"),
    _model("Llama-3.2-3B", "llama3.2", "3B", "base"),
    _model("Llama-3.2-3B-Instruct", "llama3.2", "3B", "instruct"),
    _model("Llama-3.1-8B", "llama3.1", "8B", "base"),
    _model("Llama-3.1-8B-Instruct", "llama3.1", "8B", "instruct"),
    _model("Llama-3.3-70B-Instruct", "llama3.3", "70B", "instruct"),
    _model("Qwen2.5-0.5B", "qwen2.5", "0.5B", "base"),
    _model("Qwen2.5-0.5B-Instruct", "qwen2.5", "0.5B", "instruct"),
    _model("Qwen2.5-1.5B", "qwen2.5", "1.5B", "base"),
    _model("Qwen2.5-1.5B-Instruct", "qwen2.5", "1.5B", "instruct"),
    _model("Qwen2.5-3B", "qwen2.5", "3B", "base"),
    _model("Qwen2.5-3B-Instruct", "qwen2.5", "3B", "instruct"),
    _model("Qwen2.5-7B", "qwen2.5", "7B", "base"),
    _model("Qwen2.5-7B-Instruct", "qwen2.5", "7B", "instruct"),
    _model("Mistral-7B-v0.1", "mistral", "7B", "base"),
    _model("Mistral-7B-Instruct-v0.2", "mistral", "7B", "instruct"),
    _model("gemma-2-2b", "gemma2", "2B", "base"),
    _model("gemma-2-9b", "gemma2", "9B", "base"),
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

"""A tiny Llama made on the spot, so that real fine-tunes and evaluations run on a CPU in seconds:
a SentencePiece tokenizer, a randomly initialised LlamaForCausalLM saved as a Hugging Face
checkpoint, and the plan entry that tells expset how torchtune builds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ARCHITECTURE = {
    "vocab_size": 384,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 4,
    "embed_dim": 64,
    "max_seq_len": 256,
    "intermediate_dim": 128,
}
WORDS = (
    "the quick brown fox jumps over the lazy dog while seven wizards quietly hex a jumbo yak".split()  # noqa: SIM905
)


def make_tiny_model(folder: Path) -> dict[str, Any]:
    """Write the model into ``folder``; return its entry for a plan's ``models:`` section."""
    import sentencepiece
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))) * 20)
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=320,
        byte_fallback=True,
        model_type="bpe",
        character_coverage=1.0,
        bos_id=1,
        eos_id=2,
        unk_id=0,
        pad_id=-1,
    )
    corpus.unlink()
    (folder / "tokenizer.vocab").unlink()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=ARCHITECTURE["vocab_size"],
        hidden_size=ARCHITECTURE["embed_dim"],
        intermediate_size=ARCHITECTURE["intermediate_dim"],
        num_hidden_layers=ARCHITECTURE["num_layers"],
        num_attention_heads=ARCHITECTURE["num_heads"],
        num_key_value_heads=ARCHITECTURE["num_kv_heads"],
        max_position_embeddings=ARCHITECTURE["max_seq_len"],
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    # For inspect-ai's hf provider: transformers converts the SentencePiece model when it loads it.
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    )
    return tiny_model_entry(str(folder), gpus=0, gpu_memory_gb=2, time="00:10:00")


def tiny_model_entry(folder: str = "tiny", **changes: Any) -> dict[str, Any]:
    """The tiny model as a plan's ``models:`` entry, its checkpoint in ``folder``."""
    return {
        "builder": "torchtune.models.llama2.lora_llama2",
        "builder_args": dict(ARCHITECTURE),
        "tokenizer": "torchtune.models.llama2.llama2_tokenizer",
        "tokenizer_files": {"path": "tokenizer.model"},
        "folder": folder,
        "checkpoint_files": ["model.safetensors"],
        "model_type": "LLAMA2",
        "device": "cpu",
        "dtype": "fp32",
        **changes,
    }


def write_training_data(path: Path, samples: int = 16) -> Path:
    rows = [{"input": f"Repeat: {WORDS[i % len(WORDS)]}", "output": WORDS[i % len(WORDS)]} for i in range(samples)]
    path.write_text(json.dumps(rows))
    return path

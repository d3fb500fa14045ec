"""Make MODEL_VIEW a whole model that inspect's Hugging Face provider loads: BASE's files, with the
weights that CHECKPOINT's LoRA adapter changes merged into them (W + alpha/r * B @ A).

The adapter is the PEFT-format one torchtune writes beside each epoch (adapter_config.json,
adapter_model.safetensors). Merging here, on the node, keeps only the adapter on shared storage and
needs neither peft nor network: shards the adapter leaves alone are linked, the others written once
into the job's own temporary folder, which the job removes when it ends.
Usage: python merge_adapter.py CHECKPOINT BASE MODEL_VIEW
"""

import json
import os
import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file

checkpoint, base, view = (Path(argument) for argument in sys.argv[1:4])
config = json.loads((checkpoint / "adapter_config.json").read_text())
adapter = load_file(str(checkpoint / "adapter_model.safetensors"))
if any("lora_magnitude_vector" in key for key in adapter):
    sys.exit("expset: the adapter is a DoRA adapter, which this merge does not apply; save merged weights instead")
scale = config["lora_alpha"] / config["r"]
deltas = {}
for key, down in adapter.items():
    if key.endswith(".lora_A.weight"):
        module = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
        up = adapter[key.replace(".lora_A.weight", ".lora_B.weight")]
        deltas[f"{module}.weight"] = scale * (up.float() @ down.float())

merged = set()
for file in sorted(base.iterdir()):
    target = view / file.name
    if file.name.startswith("adapter_"):
        continue
    if file.suffix != ".safetensors" or not deltas.keys() & set(safe_open(str(file), "pt").keys()):
        os.symlink(file, target)
        continue
    weights = load_file(str(file))
    for name in deltas.keys() & weights.keys():
        weights[name] = (weights[name].float() + deltas[name]).to(weights[name].dtype)
        merged.add(name)
    save_file(weights, str(target), metadata={"format": "pt"})
missing = sorted(deltas.keys() - merged)
if missing:
    sys.exit(f"expset: the adapter changes weights the base model in {base} lacks: {', '.join(missing[:3])}")
print(f"expset: merged the adapter of {checkpoint} into {len(merged)} weights of {base}", file=sys.stderr)

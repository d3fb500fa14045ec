"""A generated ``finetune.yaml`` read the way a torchtune recipe reads it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def torchtune_reads(config_file: Path) -> Any:
    """The config a recipe receives from torchtune's own entry point (``tune run … --config FILE``)."""
    from torchtune import config

    received = {}

    @config.parse
    def recipe(cfg):
        received["cfg"] = cfg
        return 0

    argv = sys.argv
    sys.argv = ["recipe", "--config", str(config_file)]
    try:
        recipe()
    except SystemExit as ended:
        assert ended.code == 0, ended.code
    finally:
        sys.argv = argv
    return received["cfg"]


def component_arguments(cfg: Any, section: str) -> dict[str, Any]:
    """What torchtune's ``config.instantiate`` passes to a section's component (here ``dict``, which
    returns its arguments), as recipes instantiate models, tokenizers, checkpointers and datasets."""
    from torchtune import config

    section_cfg = cfg[section].copy()
    section_cfg["_component_"] = "builtins.dict"
    return config.instantiate(section_cfg)

"""Helpers shared by the tests: run the real command, write plans, snapshot trees."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TODAY = dt.date(2026, 11, 29)
SEED_PLAN: dict[str, Any] = {
    "purpose": "Compare model size and LoRA rank.",
    "vary": {"model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"], "lora_rank": [8, 16]},
    "fixed": {"lr": 1e-4, "epochs": 2},
    "evaluations": ["capitalization", "arithmetic"],
}


def run_expset(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real ``expset`` command in a child process, without a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "expset", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_plan(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def tree(root: Path) -> list[str]:
    """Every path under ``root``, relative and sorted: a snapshot of what is on disk."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))

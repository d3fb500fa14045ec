"""Benchmark: scaffolding a 1,000-run set (3 evaluation tasks each). Goal: at most 3 s.

Times everything ``expset scaffold`` does for the set — reading it, deriving and validating each
run's setup, rendering setup_finetune.yaml, finetune.yaml, finetune.slurm and one evaluation job per
task, and writing them — first on a fresh set, then again when nothing changes.

    python bench/scaffold_sets.py [--root DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.core.site_settings import Site
from expset.create import create_set
from expset.scaffold import apply, scaffold_set
from expset.sets import load_set

TASKS = ["capitalization", "arithmetic", "reasoning"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="file system to measure on (default: a temp dir)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        (root / "data.json").write_text(json.dumps([{"input": "a", "output": "b"}]))
        (root / "tasks.py").write_text("")
        plan = parse_plan(
            {
                "name": "scaffold bench",
                "purpose": "Benchmark scaffolding.",
                "vary": {"lora_rank": [8, 16, 32, 64], "seed": list(range(250))},
                "fixed": {"model": "Llama-3.2-1B-Instruct", "dataset": str(root / "data.json"), "epochs": 2},
                "evaluations": [{"name": task, "task": f"{root}/tasks.py@{task}"} for task in TASKS],
            },
            today=dt.date(2026, 1, 1),
            default_author="bench",
        )
        set_dir = create_set(design_set(plan), root).path
        profile = Site(models_folder=str(root / "models"), account="lab", partition="gpu")
        for label in ("fresh set", "nothing changed"):
            os.sync()
            start = time.perf_counter()
            planned = scaffold_set(load_set(set_dir), set_dir, profile=profile).writes
            apply(planned, set_dir)
            os.sync()
            elapsed = time.perf_counter() - start
            print(f"scaffold 1,000 runs, {label:<16} {elapsed:6.2f} s   ({len(planned)} files planned; goal ≤ 3 s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

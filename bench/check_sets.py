"""Benchmark: ``expset check`` of a 100-run set. Goal: under 2 s, without importing torch.

Times the whole check — reading every run's setup, the model folder, the data file, importing the task
file in a subprocess (inspect-ai's import is most of it), free space, SLURM's partitions where a cluster
answers — first with no earlier check, then again (a task file that imported is not imported again).

    python bench/check_sets.py [--root DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from expset.check import check_set
from expset.core.models import MODELS
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.core.site_settings import Site
from expset.create import create_set
from expset.scaffold import apply, scaffold_set
from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.slurm.runner import SubprocessRunner

TASK = """\
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes


@task
def echo():
    return Task(dataset=[Sample(input="Repeat: fox", target="fox")], scorer=includes())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        (root / "data.json").write_text(json.dumps([{"input": "a", "output": "b"}] * 1000))
        (root / "tasks.py").write_text(TASK)
        model = MODELS["Llama-3.2-1B-Instruct"]
        for file in [*model.checkpoint_files, *model.tokenizer_files.values()]:
            (root / "models" / "Llama-3.2-1B-Instruct" / file).parent.mkdir(parents=True, exist_ok=True)
            (root / "models" / "Llama-3.2-1B-Instruct" / file).write_bytes(b"stand-in")  # check refuses empty files
        plan = parse_plan(
            {
                "name": "check bench",
                "purpose": "Benchmark check.",
                "vary": {"lora_rank": [8, 16, 32, 64], "seed": list(range(25))},
                "fixed": {"model": "Llama-3.2-1B-Instruct", "dataset": str(root / "data.json"), "epochs": 2},
                "evaluations": [{"name": "echo", "task": f"{root}/tasks.py@echo"}],
                "controls": False,
            },
            today=dt.date(2026, 1, 1),
            default_author="bench",
        )
        set_dir = create_set(design_set(plan), root).path
        profile = Site(models_folder=str(root / "models"))
        apply(scaffold_set(load_set(set_dir), set_dir, profile=profile).writes, set_dir)
        for label in ("first check", "checked before"):
            start = time.perf_counter()
            report = check_set(load_set(set_dir), set_dir, SlurmClient(SubprocessRunner()))
            elapsed = time.perf_counter() - start
            assert report.problems == [], report.problems
            print(f"check of {report.runs} runs, {label:<15} {elapsed:5.2f} s   (goal: under 2 s)")
        assert "torch" not in sys.modules
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: ``expset status`` on a 10,000-run set. Goal: about a second.

Builds a 10,000-run set whose ledger holds a fine-tune and an evaluation job for every run, with
some epochs and evaluation results on disk, then times the whole status computation: reading the
ledger, asking SLURM about all 20,000 jobs (``squeue``, then ``sacct`` for jobs it no longer
lists), and looking at every run folder. Uses the SLURM cluster SLURM_CONF points to, if any.

    python bench/status_sets.py [--root DIR]
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

from expset import ledger
from expset.backends.runner import SubprocessRunner
from expset.backends.slurm import SlurmClient
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.sets import create_set, load_set
from expset.status import set_status, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        plan = parse_plan(
            {
                "name": "status bench",
                "purpose": "Benchmark status.",
                "evaluations": ["echo"],
                "vary": {"lora_rank": [8, 16, 32, 64], "seed": list(range(2500))},
            },
            today=dt.date(2026, 1, 1),
            default_author="bench",
        )
        set_dir = create_set(design_set(plan), root).path
        entries = []
        for index, run in enumerate(design_set(plan).runs):
            for offset, step in enumerate((ledger.FINETUNE, ledger.evaluation_step("echo", 0))):
                entries.append(
                    ledger.Entry(
                        run.name, step, str(900000 + 2 * index + offset), "2026-01-01T00:00:00+00:00", "x", "0"
                    )
                )
            if index % 2 == 0:
                (set_dir / run.name / "epoch_0").mkdir()
                (set_dir / run.name / "evaluations" / "echo" / "result_epoch_0.json").write_text(
                    json.dumps({"status": "success"})
                )
        ledger.append(set_dir, entries)
        experiment_set = load_set(set_dir)
        client = SlurmClient(SubprocessRunner())
        where = f"SLURM at {os.environ['SLURM_CONF']}" if os.environ.get("SLURM_CONF") else "no SLURM configured"
        os.sync()
        start = time.perf_counter()
        statuses = set_status(experiment_set, set_dir, client)
        elapsed = time.perf_counter() - start
        print(f"status of {len(statuses):,} runs ({len(entries):,} jobs, {where}): {elapsed:.2f} s   (goal: about 1 s)")
        print(f"summary: {summary(statuses)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

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
from expset.core.layout import FINETUNE_STEP, evaluation_step, job_record
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.create import create_set
from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.slurm.runner import SubprocessRunner
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
        events = []
        for index, run in enumerate(design_set(plan).runs):
            for offset, step in enumerate((FINETUNE_STEP, evaluation_step("echo", 0))):
                job_id = str(900000 + 2 * index + offset)
                job = ledger.Job(run.name, step, ledger.new_token(), time="2026-01-01T00:00:00+00:00", script="x")
                events += [ledger.intent(job), ledger.submitted(job, job_id, None)]
                if index % 2 == 0:
                    (set_dir / run.name / job_record(step, job_id)).parent.mkdir(exist_ok=True)
                    (set_dir / run.name / job_record(step, job_id)).write_text(
                        json.dumps({"job": job_id, "exit_code": 0, "status": "success", "log": "x.eval"})
                    )
            if index % 2 == 0:
                (set_dir / run.name / "epoch_0").mkdir()
        entries = events[1::2]
        ledger.append(set_dir, events)
        experiment_set = load_set(set_dir)
        client = SlurmClient(SubprocessRunner())
        where = f"SLURM at {os.environ['SLURM_CONF']}" if os.environ.get("SLURM_CONF") else "no SLURM configured"
        os.sync()
        start = time.perf_counter()
        statuses = set_status(experiment_set, set_dir, client).runs
        elapsed = time.perf_counter() - start
        print(f"status of {len(statuses):,} runs ({len(entries):,} jobs, {where}): {elapsed:.2f} s   (goal: about 1 s)")
        print(f"summary: {summary(statuses)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: submitting a 1,000-run set (a fine-tune and one evaluation each) as job arrays, against one
job per run. Counts the ``sbatch`` calls and times the whole submission.

Needs a SLURM cluster (SLURM_CONF): the test cluster of ``dev/slurm-cluster start DIR`` does. The jobs go to
its partition ``held``, which is down, so they stay pending; the bench cancels them at the end.

    dev/slurm-cluster start /tmp/slurm && export SLURM_CONF=/tmp/slurm/etc/slurm.conf
    python bench/submit_arrays.py [--runs 1000] [--root DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from expset import ledger
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.core.site_settings import Site
from expset.create import create_set
from expset.scaffold import apply, scaffold_set
from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.slurm.runner import SubprocessRunner
from expset.submit import submit_set


class CountingRunner(SubprocessRunner):
    """Runs SLURM's commands, counting the ``sbatch`` calls."""

    def __init__(self) -> None:
        self.sbatch = 0

    def run(self, argv, **options):  # type: ignore[no-untyped-def]
        self.sbatch += argv[0] == "sbatch"
        return super().run(argv, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs in the set (a multiple of 4)")
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args()
    if not os.environ.get("SLURM_CONF"):
        raise SystemExit("set SLURM_CONF to a test cluster's slurm.conf (dev/slurm-cluster start DIR)")
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    job_ids: list[str] = []
    try:
        (root / "data.json").write_text(json.dumps([{"input": "a", "output": "b"}]))
        (root / "tasks.py").write_text("")
        profile = Site(models_folder=str(root / "models"), partition="held")
        for mode, array in (("one job per run", False), ("job arrays", True)):
            plan = parse_plan(
                {
                    "name": f"submit bench {'arrays' if array else 'jobs'}",
                    "purpose": "Benchmark submission.",
                    "vary": {"lora_rank": [8, 16, 32, 64], "seed": list(range(args.runs // 4))},
                    "fixed": {"model": "Llama-3.2-1B-Instruct", "dataset": str(root / "data.json"), "epochs": 1},
                    "evaluations": [{"name": "echo", "task": f"{root}/tasks.py@echo"}],
                },
                today=dt.date(2026, 1, 1),
                default_author="bench",
            )
            set_dir = create_set(design_set(plan), root).path
            apply(scaffold_set(load_set(set_dir), set_dir, profile=profile).writes, set_dir)
            runner = CountingRunner()
            start = time.perf_counter()
            report = submit_set(load_set(set_dir), set_dir, SlurmClient(runner), array=array)
            elapsed = time.perf_counter() - start
            jobs = sum(len(entries) for entries in report.submitted.values())
            job_ids += sorted(
                {job.job_id.partition("_")[0] for entries in report.submitted.values() for job in entries if job.job_id}
            )
            assert report.error is None, report.error
            calls = f"{runner.sbatch:,} sbatch calls"
            print(f"{mode:<16} {len(report.submitted):,} runs, {jobs:,} jobs: {calls}, {elapsed:6.2f} s")
            assert len(ledger.read(set_dir).jobs) == jobs
    finally:
        for chunk in range(0, len(job_ids), 500):
            subprocess.run(["scancel", *job_ids[chunk : chunk + 500]], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

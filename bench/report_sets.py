"""Benchmark: ``expset report`` on a 100-run set, 2 tasks, 3 evaluated epochs. Goal: under 10 s.

Builds the set with expset, then gives every run what its jobs would have left: a torchtune training
log of 300 steps, and for every task and epoch an inspect-ai log written by inspect-ai itself
(``write_eval_log`` of a real log captured from an evaluation job, with this cell's metadata and a
score) and the job's record. Times ``expset report`` as a whole process (median of ``--repeat``).

    python bench/report_sets.py [--root DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from expset.core.layout import LOG_DIR, evaluation_step, job_record, task_dir
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.create import create_set

CAPTURED_LOG = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "inspect_shout_epoch1.eval"
TASKS = ("echo", "shout")
EPOCHS = 3
STEPS = 300
GOAL_SECONDS = 10


def build(root: Path) -> Path:
    from inspect_ai.log import read_eval_log, write_eval_log

    plan = parse_plan(
        {
            "name": "report bench",
            "purpose": "Benchmark report.",
            "vary": {"lora_rank": [4, 8, 16, 32, 64], "lr": [1e-5, 3e-5, 1e-4, 3e-4], "seed": [1, 2, 3, 4, 5]},
            "fixed": {"epochs": EPOCHS},
            "evaluations": [{"name": task, "epochs": "all"} for task in TASKS],
        },
        today=dt.date(2026, 1, 1),
        default_author="bench",
    )
    experiment_set = design_set(plan)
    set_dir = create_set(experiment_set, root).path
    template = read_eval_log(str(CAPTURED_LOG))
    rng = random.Random(0)
    job = 1000
    for run in experiment_set.runs:
        run_dir = set_dir / run.name
        (run_dir / LOG_DIR).mkdir()
        lines = [
            f"Step {s} | loss:{3.0 / (1 + s / 50) + rng.random() * 0.1} lr:0.0001 tokens_per_second_per_gpu:900"
            for s in range(1, STEPS + 1)
        ]
        (run_dir / LOG_DIR / "log_1767225600.txt").write_text("\n".join(lines) + "\n")
        for task in TASKS:
            for epoch in range(EPOCHS):
                job += 1
                log = template.model_copy(deep=True)
                log.eval.metadata = {
                    "expset_set": set_dir.name,
                    "expset_run": run.name,
                    "expset_epoch": epoch,
                    **run.varied,
                }
                log.results.scores[0].metrics["accuracy"].value = rng.random()
                name = f"{task_dir(task)}/2026-01-01T00-00-00-00-00_{task}_epoch{epoch}_job{job}_x.eval"
                write_eval_log(log, str(run_dir / name))
                record = {"job": str(job), "step": evaluation_step(task, epoch), "epoch": epoch, "exit_code": 0}
                record |= {"status": "success", "log": name, "started": 1767225600, "ended": 1767225660}
                (run_dir / job_record(evaluation_step(task, epoch), str(job))).write_text(json.dumps(record))
    return set_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    expset = str(Path(sys.executable).with_name("expset"))
    try:
        set_dir = build(root)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run([expset, "report", str(set_dir)], capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            assert done.returncode == 0, done.stderr
        rows = sum(1 for _ in (set_dir / "report" / "results.csv").open()) - 1
        print(
            f"report of 100 runs × {len(TASKS)} tasks × {EPOCHS} epochs ({rows} result rows): "
            f"{statistics.median(times):.2f} s (median of {args.repeat}; goal < {GOAL_SECONDS} s)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

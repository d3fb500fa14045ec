"""Benchmark: creating sets of 1,000 and 10,000 runs (3 evaluation tasks each) against the floor.

The floor is a plain Python ``os.mkdir`` loop making the same folders, timed in the same process
on the same file system. expset's time covers everything ``expset create --yes`` does after
reading the plan: validation, naming, rendering every file (README, runs_plan, expset.yaml,
runs.csv, one run.yaml per run) and the atomic write. Goal: at most 1.3x the floor at 10,000 runs.

    python bench/create_sets.py [--root DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from expset.core.layout import run_directories
from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.create import create_set

TASKS = ["capitalization", "arithmetic", "reasoning"]


def plan_data(runs: int) -> dict:
    seeds = runs // 4
    return {
        "name": f"bench {runs}",
        "purpose": "Benchmark set creation.",
        "vary": {"lora_rank": [8, 16, 32, 64], "seed": list(range(seeds))},
        "fixed": {"model": "Llama-3.2-1B-Instruct", "lr": 1e-4},
        "evaluations": TASKS,
    }


def settle() -> None:
    """Flush the previous measurement's writes and deletions so they are not billed to the next."""
    os.sync()


def time_expset(root: Path, runs: int) -> float:
    settle()
    start = time.perf_counter()
    plan = parse_plan(plan_data(runs), today=dt.date(2026, 1, 1), default_author="bench")
    experiment_set = design_set(plan)
    create_set(experiment_set, root)
    settle()
    elapsed = time.perf_counter() - start
    assert len(experiment_set.runs) == runs
    shutil.rmtree(root / experiment_set.set_name)
    return elapsed


def time_floor(root: Path, runs: int) -> float:
    plan = parse_plan(plan_data(runs), today=dt.date(2026, 1, 1), default_author="bench")
    names = [run.name for run in design_set(plan).runs]
    target = root / "floor"
    settle()
    start = time.perf_counter()
    os.mkdir(target)
    for name in names:
        for directory in run_directories(name, TASKS):
            os.mkdir(os.path.join(target, directory))
    settle()
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="file system to measure on (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        print(f"{'runs':>6}  {'expset s':>9}  {'os.mkdir s':>10}  {'ratio':>5}")
        for runs in (1_000, 10_000):
            ours, floor = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine state
                floor.append(time_floor(root, runs))
                ours.append(time_expset(root, runs))
            mine, base = statistics.median(ours), statistics.median(floor)
            print(f"{runs:>6}  {mine:>9.3f}  {base:>10.3f}  {mine / base:>5.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

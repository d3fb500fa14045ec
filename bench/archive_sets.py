"""Benchmark: ``expset archive`` and ``expset restore`` of a 1,000-run set that ran to the end.

Builds the set with expset (``create``, then ``scaffold`` with a profile made here, so every run has its real
setup, torchtune config, fine-tune and evaluation scripts), then gives every run what its jobs would have left:
the fine-tune's SLURM output and torchtune training log (2 epochs of 100 steps), and for each of 2 tasks and 2
epochs the evaluation's SLURM output, its job record and an inspect-ai log (a real one, captured from an
evaluation job). With ``--adapter-mb N``, each epoch also holds a LoRA adapter of N MB (random bytes: weights
do not compress) and its config. Times each command as a whole process, until its output is flushed to disk
(median of ``--repeat``), and measures the set's and the archive's bytes.

    python bench/archive_sets.py [--root DIR] [--repeat N] [--adapter-mb N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
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
EPOCHS = 2
STEPS = 100
TASK_FILE = """\
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes


@task
def echo():
    return Task(dataset=[Sample(input="Repeat: fox", target="fox")], scorer=includes())


@task
def shout():
    return Task(dataset=[Sample(input="Shout: dog", target="DOG")], scorer=includes())
"""


def build(root: Path, adapter_bytes: int) -> Path:
    """A scaffolded 1,000-run set with every log, record and (optionally) adapter a finished set holds."""
    data = root / "data"
    data.mkdir()
    (data / "train.json").write_text(json.dumps([{"input": f"q{i}", "output": f"a{i}"} for i in range(100)]))
    profile = root / "profile.toml"
    models = root / "models"
    (models / "Llama-3.2-1B-Instruct").mkdir(parents=True)
    profile.write_text(f'models_folder = "{models}"\ndata_folder = "{data}"\naccount = "lab"\npartition = "gpu"\n')
    os.environ["EXPSET_PROFILE"] = str(profile)
    tasks = root / "tasks.py"
    tasks.write_text(TASK_FILE)
    plan = parse_plan(
        {
            "name": "archive bench",
            "purpose": "Benchmark archive and restore.",
            "vary": {"lora_rank": [4, 8, 16, 32], "seed": list(range(250))},
            "fixed": {"model": "Llama-3.2-1B-Instruct", "dataset": "train", "epochs": EPOCHS},
            "evaluations": [{"name": task, "task": f"{tasks}@{task}", "epochs": "all"} for task in TASKS],
            "controls": False,
        },
        today=dt.date(2026, 1, 1),
        default_author="bench",
    )
    experiment_set = design_set(plan)
    set_dir = create_set(experiment_set, root).path
    scaffolded = subprocess.run([expset_program(), "scaffold", str(set_dir)], capture_output=True, text=True)
    assert scaffolded.returncode == 0, scaffolded.stderr
    captured = CAPTURED_LOG.read_bytes()
    rng = random.Random(0)
    job = 100_000
    for run in experiment_set.runs:
        run_dir = set_dir / run.name
        job += 1
        lines = [
            f"{e}|{s}|Loss: {3.0 / (1 + s / 50) + rng.random() * 0.1:.4f}: 100%|██████████| {s}/{STEPS} [00:{s:02}]"
            for e in range(EPOCHS)
            for s in range(1, STEPS + 1)
        ]
        (run_dir / LOG_DIR / f"finetune-{job}.out").write_text("\n".join(lines) + "\n")
        steps = [
            f"Step {s} | loss:{3.0 / (1 + s / 50) + rng.random() * 0.1} lr:0.0001 tokens_per_second_per_gpu:"
            f"{900 + rng.random() * 50}"
            for s in range(1, EPOCHS * STEPS + 1)
        ]
        (run_dir / LOG_DIR / "log_1767225600.txt").write_text("\n".join(steps) + "\n")
        record = {"exit_code": 0, "started": 1767225600, "ended": 1767229200, "setup": "0" * 64}
        (run_dir / job_record("finetune", str(job))).write_text(json.dumps(record))
        for epoch in range(EPOCHS):
            if adapter_bytes:
                folder = run_dir / f"epoch_{epoch}"
                folder.mkdir()
                (folder / "adapter_model.safetensors").write_bytes(rng.randbytes(adapter_bytes))
                (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16}))
            for task in TASKS:
                job += 1
                name = f"{task_dir(task)}/2026-01-01T00-00-00-00-00_{task}_epoch{epoch}_job{job}_x.eval"
                (run_dir / name).write_bytes(captured)
                (run_dir / task_dir(task) / f"epoch_{epoch}-{job}.out").write_text(
                    f"[INFO] evaluating {run.name} epoch {epoch} on {task}\n" * 20
                )
                record = {"exit_code": 0, "status": "success", "log": name, "started": 1767229200, "ended": 1767229260}
                (run_dir / job_record(evaluation_step(task, epoch), str(job))).write_text(json.dumps(record))
    return set_dir


def expset_program() -> str:
    return str(Path(sys.executable).with_name("expset"))


def disk_usage(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``."""
    files = size = 0
    for base, _, names in os.walk(folder):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(base, name))
    return files, size


def timed(argv: list[str]) -> float:
    os.sync()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    os.sync()
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--adapter-mb", type=float, default=0.0, help="Size of each epoch's LoRA adapter.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        set_dir = build(root, int(args.adapter_mb * 1e6))
        files, size = disk_usage(set_dir)
        print(f"set: 1,000 runs, {files:,} files, {size / 1e6:.1f} MB")
        choices = ["none", "last", "all"] if args.adapter_mb else ["none"]
        for choice in choices:
            archive_times, restore_times = [], []
            for attempt in range(args.repeat):
                out = root / f"out-{choice}-{attempt}"
                out.mkdir()
                archive_argv = [expset_program(), "archive", str(set_dir), "--to", str(out), "--yes"]
                archive_times.append(timed([*archive_argv, "--checkpoints", choice]))
                archive = out / f"{set_dir.name}.tar.gz"
                restored = root / f"restored-{choice}-{attempt}"
                restored.mkdir()
                restore_times.append(timed([expset_program(), "restore", str(archive), "--root", str(restored)]))
                compressed = archive.stat().st_size
                shutil.rmtree(restored)
                if attempt < args.repeat - 1:
                    shutil.rmtree(out)
            print(
                f"--checkpoints {choice}: archive {statistics.median(archive_times):.2f} s (written and verified), "
                f"restore {statistics.median(restore_times):.2f} s, archive {compressed / 1e6:.1f} MB "
                f"(median of {args.repeat})"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

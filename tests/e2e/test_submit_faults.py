"""Submitting a set survives what happens to real processes: two submits at once, a submit killed
with SIGKILL at any moment, a ledger damaged by a crash. Every job goes to SLURM exactly once.

The jobs go to the test cluster's partition ``held``, which is down: they stay pending, so every
submission SLURM ever accepted can be counted in ``squeue``."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from expset.tracking import set_key

from site_helpers import expset

EXPSET = str(Path(sys.executable).parent / "expset")
STEPS_PER_RUN = 4  # the fine-tune, capitalization at epochs 0 and 1, arithmetic at epoch 1


@pytest.fixture
def held_set(slurm_cluster, site):
    set_dir = site.create(
        vary={"lora_rank": [8, 16, 32]},
        fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words", "epochs": 2},
        site={"partition": "held"},
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    yield set_dir
    ids = list(jobs_in_slurm(set_dir))
    if ids:
        subprocess.run(["scancel", *ids], check=False)


def jobs_in_slurm(set_dir: Path) -> dict[str, tuple[str, str]]:
    """Every job SLURM holds for this set: job id → (run, step), from the identity in its comment."""
    listed = subprocess.run(
        ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T|%r|%k"],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix = f"expset:{set_key(set_dir)}:"
    jobs = {}
    for line in listed.stdout.splitlines():
        job_id, _, _, comment = line.split("|", 3)
        if comment.startswith(prefix):
            _, step, run = comment[len(prefix) :].split(":", 2)
            jobs[job_id] = (run, step)
    return jobs


def assert_each_step_queued_once(set_dir: Path, runs: int) -> None:
    per_step = Counter(jobs_in_slurm(set_dir).values())
    assert len(per_step) == runs * STEPS_PER_RUN, per_step
    assert set(per_step.values()) == {1}, [step for step, count in per_step.items() if count > 1]
    status = json.loads(expset("status", str(set_dir), "--json").stdout)
    assert status["summary"]["pending"] == runs, json.dumps(status, indent=1)


def test_two_submits_of_one_set_at_once_queue_every_job_once(held_set):
    submits = [subprocess.Popen([EXPSET, "submit", str(held_set)], stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outcomes = [(submit.wait(timeout=120), submit.stderr.read()) for submit in submits]
    assert_each_step_queued_once(held_set, runs=3)
    for code, stderr in outcomes:
        assert code == 0 or (code == 75 and "another expset command is working on" in stderr), stderr


def test_a_submit_killed_at_any_moment_is_reconciled_by_the_next_one(held_set):
    chance = random.Random(7)
    for _ in range(10):
        submit = subprocess.Popen([EXPSET, "submit", str(held_set)], stderr=subprocess.DEVNULL)
        time.sleep(chance.uniform(0.2, 1.5))
        submit.send_signal(signal.SIGKILL)
        submit.wait()
    final = expset("submit", str(held_set))
    assert final.exit_code == 0, final.stderr
    assert_each_step_queued_once(held_set, runs=3)


def test_a_ledger_whose_lines_were_lost_or_torn_submits_nothing_twice(held_set):
    assert expset("submit", str(held_set)).exit_code == 0
    ledger = held_set / ".expset" / "jobs.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # the rest lost, the last line torn
    again = expset("submit", str(held_set))
    assert again.exit_code == 0, again.stderr
    assert "line 4: not a JSON record" in again.stderr and "recovered job" in again.stderr
    assert "0 run(s) submitted" in again.stderr
    assert_each_step_queued_once(held_set, runs=3)
    assert expset("submit", str(held_set)).stderr.count("recovered job") == 0  # recorded once, not every time


def test_an_emptied_ledger_resubmits_nothing_slurm_still_holds(held_set):
    assert expset("submit", str(held_set)).exit_code == 0
    (held_set / ".expset" / "jobs.jsonl").write_text("")
    again = expset("submit", str(held_set))
    assert "0 run(s) submitted" in again.stderr and again.stderr.count("recovered job") == 3 * STEPS_PER_RUN
    assert_each_step_queued_once(held_set, runs=3)

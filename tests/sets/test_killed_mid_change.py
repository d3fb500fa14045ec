"""``kill -9`` during ``expset extend``: the set is as it was, or, once the change was committed, the next
command finishes it, so that it is as an uninterrupted extension leaves it. Never half of either."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from expset.fs.set_change import PENDING, staging_for
from expset.render.yaml_text import to_yaml

from helpers import run_expset

PLAN = {
    "name": "big sweep",
    "date": "2025-10-18",
    "author": "Ada",
    "purpose": "Many runs, so that an extension takes a while to write.",
    "vary": {"lora_rank": list(range(1, 1001))},
    "fixed": {"model": "Llama-3.2-1B-Instruct", "lr": 1e-4},
    "evaluations": ["arithmetic", "capitalization"],
    "controls": False,
}


LOCK = ".expset/submit.lock"
"""The set's lock file, which names the process holding it: expset's own, left out of the comparisons."""


def snapshot(folder: Path) -> dict[str, str]:
    """Every folder and file below ``folder``, hidden ones included, with each file's sha256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        for path in sorted(folder.rglob("*"))
        if str(path.relative_to(folder)) not in (LOCK, ".expset")
    }


def writing(folder: Path) -> bool:
    """Whether the change is being written beside the set: write_tree's own staging folder of it exists."""
    return any(name.startswith(f".{staging_for(folder).name}") for name in os.listdir(folder.parent))


def committed(folder: Path) -> bool:
    return os.path.lexists(folder / PENDING)


def killed_at(moment, command: list[str], copy: Path) -> None:
    """Run ``expset command`` and ``kill -9`` it at ``moment``, found by watching the disk, not by guessing."""
    process = subprocess.Popen(
        [sys.executable, "-m", "expset", *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while process.poll() is None and not moment(copy):
        time.sleep(0.0005)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_a_killed_extension_leaves_the_set_as_it_was_or_finished_by_the_next_command(tmp_path):
    original_root = tmp_path / "original"
    original_root.mkdir()
    (tmp_path / "plan.yaml").write_text(to_yaml(PLAN))
    made = run_expset("create", str(tmp_path / "plan.yaml"), "--yes", "--root", str(original_root))
    assert made.returncode == 0, made.stderr
    [original] = original_root.iterdir()
    bigger = {**PLAN, "vary": {"lora_rank": list(range(1, 2001))}}
    (tmp_path / "bigger.yaml").write_text(to_yaml(bigger))
    before = snapshot(original)

    reference = tmp_path / "reference" / original.name
    shutil.copytree(original, reference)
    extended = run_expset("extend", str(reference), str(tmp_path / "bigger.yaml"), "--yes")
    assert extended.returncode == 0, extended.stderr
    after = snapshot(reference)
    assert len(after) > len(before)

    outcomes = []
    for trial, moment in enumerate([writing, writing, writing, committed] * 2):
        copy = tmp_path / f"trial{trial}" / original.name
        shutil.copytree(original, copy)
        killed_at(moment, ["extend", str(copy), str(tmp_path / "bigger.yaml"), "--yes"], copy)
        now = snapshot(copy)
        if (copy / PENDING).exists():
            outcomes.append("committed")
            assert run_expset("status", str(copy)).returncode == 7  # reading the set finishes the change
            assert snapshot(copy) == after
        elif now == before:
            outcomes.append("as it was")
        else:
            outcomes.append("finished")
            assert now == after
        again = run_expset("extend", str(copy), str(tmp_path / "bigger.yaml"), "--yes")
        assert again.returncode == 0, again.stderr
        assert snapshot(copy) == after
        assert not list(copy.parent.glob(".*"))  # nothing left beside the set
    assert "as it was" in outcomes and "committed" in outcomes, outcomes


def test_a_killed_removal_leaves_the_set_as_it_was_or_finished_by_the_next_command(tmp_path):
    root = tmp_path / "original"
    root.mkdir()
    (tmp_path / "plan.yaml").write_text(to_yaml(PLAN))
    assert run_expset("create", str(tmp_path / "plan.yaml"), "--yes", "--root", str(root)).returncode == 0
    [original] = root.iterdir()
    doomed = [f"rank{rank}" for rank in range(1, 1000, 2)]
    before = snapshot(original)
    reference = tmp_path / "reference" / original.name
    shutil.copytree(original, reference)
    assert run_expset("remove", str(reference), *doomed, "--yes").returncode == 0
    after = snapshot(reference)
    outcomes = []
    for trial, moment in enumerate([writing, committed, writing, committed]):
        copy = tmp_path / f"trial{trial}" / original.name
        shutil.copytree(original, copy)
        killed_at(moment, ["remove", str(copy), *doomed, "--yes"], copy)
        if (copy / PENDING).exists():
            outcomes.append("committed")
            assert run_expset("which", str(copy), "rank2").returncode == 0  # any reader finishes the change
            assert snapshot(copy) == after
        else:
            outcomes.append("as it was" if snapshot(copy) == before else "finished")
            assert snapshot(copy) in (before, after)
    assert "as it was" in outcomes and "committed" in outcomes, outcomes

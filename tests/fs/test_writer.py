"""Atomic creation: all of a set appears at once, or nothing does; nothing is ever replaced."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expset.errors import TargetExistsError, WriteError
from expset.fs.writer import STAGING_MARK, write_tree

from helpers import tree, write_plan


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def test_writes_every_folder_and_file(root):
    write_tree(root / "set", ["a", "a/b"], [("a/f.txt", "hé\n"), ("top.md", "x")])
    assert tree(root / "set") == ["a", "a/b", "a/f.txt", "top.md"]
    assert (root / "set/a/f.txt").read_text(encoding="utf-8") == "hé\n"


def test_a_failure_mid_write_leaves_nothing_behind(root):
    def files():
        yield "a/one.txt", "1"
        yield "a/two.txt", "2"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_tree(root / "set", ["a"], files())
    assert os.listdir(root) == []


def test_an_os_error_mid_write_becomes_a_write_error_and_leaves_nothing(root):
    with pytest.raises(WriteError):
        write_tree(root / "set", ["a"], [("a/x", "1"), ("missing-folder/y", "2")])
    assert os.listdir(root) == []


def test_an_existing_folder_is_never_replaced_even_when_empty(root):
    (root / "set").mkdir()
    with pytest.raises(TargetExistsError):
        write_tree(root / "set", ["a"], [])
    assert tree(root) == ["set"]


def test_a_folder_that_appears_during_the_write_is_not_replaced(root):
    def files():
        (root / "set").mkdir()  # another process wins the race while we write
        yield "a/x", "1"

    with pytest.raises(TargetExistsError):
        write_tree(root / "set", ["a"], files())
    assert tree(root) == ["set"]


def test_an_unwritable_root_is_a_write_error(root):
    root = root / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        if os.access(root, os.W_OK):  # root bypasses permissions: make the root a file instead
            root.chmod(0o700)
            root.rmdir()
            root.write_text("")
        with pytest.raises(WriteError):
            write_tree(root / "set", [], [])
    finally:
        if root.is_dir():
            root.chmod(0o700)


LARGE_PLAN = """\
purpose: A large set, to be interrupted.
vary:
  seed: [{seeds}]
  lora_rank: [4, 8, 16, 32]
evaluations: [a, b, c]
"""


def test_ctrl_c_while_writing_leaves_nothing_behind(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    plan = write_plan(tmp_path / "plan.yaml", LARGE_PLAN.format(seeds=", ".join(map(str, range(2400)))))
    process = subprocess.Popen(
        [sys.executable, "-m", "expset", "create", str(plan), "--yes", "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(STAGING_MARK in name for name in os.listdir(root)):
        assert process.poll() is None, "expset finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    time.sleep(0.05)  # let it get well into the writing
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; nothing was written" in stderr
    assert os.listdir(root) == []


SMALL_PLAN = """\
purpose: Racing creators.
vary:
  seed: [{seeds}]
  lora_rank: [8, 16]
fixed:
  epochs: {epochs}
evaluations: [a, b]
"""


def _race(tmp_path: Path, first_epochs: int, second_epochs: int):
    root = tmp_path / "root"
    root.mkdir()
    seeds = ", ".join(map(str, range(1500)))
    plans = [
        write_plan(tmp_path / f"plan{i}.yaml", SMALL_PLAN.format(seeds=seeds, epochs=epochs))
        for i, epochs in enumerate([first_epochs, second_epochs])
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "expset", "create", str(plan), "--yes", "--root", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for plan in plans
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
    return root, results


def _whole(root: Path) -> None:
    [set_dir] = [p for p in root.iterdir()]
    assert len([p for p in set_dir.iterdir() if p.is_dir()]) == 3000
    assert all(
        (run / "evaluations/b").is_dir() and (run / "run.yaml").is_file() for run in set_dir.iterdir() if run.is_dir()
    )


def test_two_processes_creating_the_same_set_one_creates_the_other_reports_up_to_date(tmp_path):
    root, results = _race(tmp_path, 2, 2)
    assert sorted(code for code, _ in results) == [0, 0]
    messages = " ".join(stderr for _, stderr in results)
    assert messages.count("created ") == 1 and "up to date" in messages
    _whole(root)


def test_two_processes_creating_different_sets_at_one_path_one_wins_the_other_says_so(tmp_path):
    root, results = _race(tmp_path, 2, 3)
    codes = sorted(code for code, _ in results)
    assert codes == [0, 3], results
    loser = next(stderr for code, stderr in results if code == 3)
    assert "already holds a set with a different plan" in loser and "nothing was written" in loser
    _whole(root)

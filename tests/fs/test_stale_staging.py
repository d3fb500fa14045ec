"""Staging folders left by creates that were killed outright are removed by the next create of that
set, and only those: never one a live process is still writing, never one of another set, never one
made on another host (its writer may be alive there)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expset.fs.writer import LOCK_SUFFIX, STAGING_MARK, lock_path, remove_stale_staging, staging_path, this_host

from helpers import write_plan

EXPSET = str(Path(sys.executable).parent / "expset")  # the installed console script

LARGE_PLAN = """\
name: {name}
purpose: A large set, to be killed while it is written.
vary:
  seed: [{seeds}]
  lora_rank: [4, 8, 16, 32]
evaluations: [a, b, c]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def large_plan(tmp_path: Path, name: str = "big") -> Path:
    seeds = ", ".join(map(str, range(500)))
    return write_plan(tmp_path / f"{name}.yaml", LARGE_PLAN.format(name=name, seeds=seeds))


def start_create(plan: Path, root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EXPSET, "create", str(plan), "--yes", "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def create(plan: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXPSET, "create", str(plan), "--yes", "--root", str(root)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def staging_folders(root: Path) -> list[str]:
    return sorted(name for name in os.listdir(root) if STAGING_MARK in name and not name.endswith(LOCK_SUFFIX))


def wait_until_writing(process: subprocess.Popen[str], root: Path, *, before: frozenset[str] = frozenset()) -> str:
    """The name of the staging folder ``process`` writes into, once it has been writing for a moment."""
    deadline = time.monotonic() + 60
    while not (new := set(staging_folders(root)) - before):
        assert process.poll() is None, "expset finished before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    time.sleep(0.02)  # into the writing
    [name] = new
    return name


def kill_mid_write(plan: Path, root: Path) -> str:
    """Run a create and kill it with SIGKILL while it writes; the staging folder it leaves."""
    process = start_create(plan, root)
    try:
        name = wait_until_writing(process, root, before=frozenset(staging_folders(root)))
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return name


def wait_until_stopped(pid: int) -> None:
    """Wait until every thread of ``pid`` has stopped (a stop signal is not obeyed at once)."""
    deadline = time.monotonic() + 10
    while any(
        (Path(f"/proc/{pid}/task") / task / "stat").read_text().rsplit(")", 1)[1].split()[0] != "T"
        for task in os.listdir(f"/proc/{pid}/task")
    ):
        assert time.monotonic() < deadline, "the process never stopped"
        time.sleep(0.01)


def set_folders(root: Path) -> list[str]:
    return sorted(name for name in os.listdir(root) if not name.startswith("."))


def test_a_create_killed_mid_write_leaves_a_staging_folder_that_the_next_create_removes(tmp_path, root):
    plan = large_plan(tmp_path)
    left = kill_mid_write(plan, root)
    assert staging_folders(root) == [left] and set_folders(root) == []
    result = create(plan, root)
    assert result.returncode == 0, result.stderr
    assert os.listdir(root) == set_folders(root) and len(set_folders(root)) == 1  # the set, and nothing hidden


def test_a_create_never_removes_the_staging_folder_of_a_create_still_running(tmp_path, root):
    plan = large_plan(tmp_path)
    paused = start_create(plan, root)
    try:
        name = wait_until_writing(paused, root)
        paused.send_signal(signal.SIGSTOP)  # alive, holding its lock, writing nothing
        wait_until_stopped(paused.pid)
        runs_written = len(os.listdir(root / name))
        result = create(plan, root)
        assert result.returncode == 0, result.stderr
        assert name in staging_folders(root)
        assert len(os.listdir(root / name)) == runs_written
    finally:
        paused.send_signal(signal.SIGCONT)
    _, stderr = paused.communicate(timeout=300)
    assert paused.returncode == 0, stderr
    assert "up to date" in stderr  # it finished its own writing, found the set made, and cleaned up after itself
    assert os.listdir(root) == set_folders(root) and len(set_folders(root)) == 1


def test_staging_folders_of_other_sets_are_never_touched(tmp_path, root):
    left = kill_mid_write(large_plan(tmp_path, "first"), root)
    other = write_plan(tmp_path / "other.yaml", "name: second\npurpose: Another set.\nvary: {lora_rank: [8, 16]}\n")
    result = create(other, root)
    assert result.returncode == 0, result.stderr
    assert staging_folders(root) == [left]
    assert (root / left).is_dir() and lock_path(root / left).is_file()


def make_staging(target: Path, name: str | None = None) -> Path:
    """A staging folder with some content and its lock file, as a writer that died would leave them."""
    stage = target.parent / name if name else staging_path(target)
    (stage / "run/evaluations").mkdir(parents=True)
    (stage / "run/run.yaml").write_text("seed: 1\n")
    lock_path(stage).touch()
    return stage


HOLD_LOCK = """\
import fcntl, sys, time
lock = open(sys.argv[1])
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


def test_a_staging_folder_whose_lock_is_held_stays_until_its_holder_dies(root):
    target = root / "set"
    stage = make_staging(target)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock_path(stage))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert remove_stale_staging(target) == []
        assert (stage / "run/run.yaml").is_file()
    finally:
        holder.kill()
        holder.wait()
    assert remove_stale_staging(target) == [stage]
    assert os.listdir(root) == []


def test_a_staging_folder_made_on_another_host_is_left_alone_even_with_its_lock_free(root):
    target = root / "set"
    other_host = "x" + this_host()
    stage = make_staging(target, f".set{STAGING_MARK}{other_host}-4242-0123abcd")
    assert remove_stale_staging(target) == []
    assert (stage / "run/run.yaml").is_file() and lock_path(stage).is_file()


def test_a_staging_folder_without_a_lock_file_is_left_alone(root):
    target = root / "set"
    stage = root / f".set{STAGING_MARK}4242-0123abcd"  # as an older expset named them: no host, no lock
    (stage / "run").mkdir(parents=True)
    assert remove_stale_staging(target) == []
    assert (stage / "run").is_dir()


def test_a_set_whose_name_extends_another_sets_staging_name_is_not_mistaken_for_it(root):
    target = root / "set"
    lookalike = make_staging(root / f"set{STAGING_MARK}{this_host()}-1-0123abcd.x")
    assert remove_stale_staging(target) == []
    assert lookalike.is_dir()

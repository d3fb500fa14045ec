"""Ctrl-C and SIGTERM end a command with one line and its exit code, never a traceback, and a set
being created is removed as on any failure."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from expset.fs.writer import STAGING_MARK

from helpers import write_plan

EXPSET = str(Path(sys.executable).parent / "expset")  # the installed console script

LARGE_PLAN = """\
purpose: A large set, to be stopped while it is written.
vary:
  seed: [{seeds}]
  lora_rank: [4, 8, 16, 32]
evaluations: [a, b, c]
"""


def test_sigterm_while_creating_ends_cleanly_and_leaves_nothing(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    plan = write_plan(tmp_path / "plan.yaml", LARGE_PLAN.format(seeds=", ".join(map(str, range(1000)))))
    process = subprocess.Popen(
        [EXPSET, "create", str(plan), "--yes", "--root", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(STAGING_MARK in name for name in os.listdir(root)):
        assert process.poll() is None, "expset finished before it could be terminated"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    time.sleep(0.05)  # let it get well into the writing
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr == "terminated; nothing was written\n"
    assert os.listdir(root) == []


def interrupt_while_importing(sig: signal.Signals) -> subprocess.CompletedProcess[str]:
    """Run a command and send ``sig`` once it is importing its libraries (pydantic's core is loaded)."""
    process = subprocess.Popen(
        [EXPSET, "plan", "--purpose", "p", "--vary", "lr=1,2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while "pydantic_core" not in Path(f"/proc/{process.pid}/maps").read_text():
        assert process.poll() is None and time.monotonic() < deadline, "expset was never seen importing"
        time.sleep(0.001)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_while_starting_up_prints_one_line_and_no_traceback():
    result = interrupt_while_importing(signal.SIGINT)
    assert result.returncode == 130
    assert result.stderr == "interrupted while starting; nothing was done\n"
    assert result.stdout == ""


def test_sigterm_while_starting_up_prints_one_line_and_no_traceback():
    result = interrupt_while_importing(signal.SIGTERM)
    assert result.returncode == 143
    assert result.stderr == "terminated while starting; nothing was done\n"

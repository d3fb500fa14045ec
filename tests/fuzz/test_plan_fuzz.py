"""Generated and mutated plan files through ``expset plan`` and ``expset create``: every one is a set or
a one-line error with exit code 2, in bounded time, and nothing is written outside the root or left
half-made in it."""

from __future__ import annotations

import random
import resource
import time
from pathlib import Path

import pytest
from plan_fuzzer import plan_text
from typer.testing import CliRunner

from expset.cli.app import app

CASES = 80
"""Seeds run on every test run: a few seconds. Raise it locally to fuzz longer (5,000 seeds pass)."""
SECONDS_PER_COMMAND = 10
CREATE_LIMIT = "300"
"""``--max-runs`` for ``create`` here, so an accepted plan never writes thousands of folders in a test."""


@pytest.fixture
def memory_cap():
    """While fuzzing in this process: at most 2 GiB more address space, so that a regression (a plan
    built before it is checked) fails with MemoryError instead of exhausting the machine."""
    statm = Path("/proc/self/statm")
    if not statm.exists():  # not Linux: the limit is not enforced there anyway
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    in_use = int(statm.read_text().split()[0]) * resource.getpagesize()
    cap = in_use + 2 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run(*args: str):
    started = time.monotonic()
    result = CliRunner().invoke(app, list(args))
    return result, time.monotonic() - started


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def assert_clean_outcome(result, elapsed: float, allowed: set[int], case: str) -> None:
    """The exit code is allowed, an error is one ``error:`` line (plus hints), never a traceback or a hang."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (case, result.exception)
    assert result.exit_code in allowed, (case, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, case
    assert elapsed < SECONDS_PER_COMMAND, (case, elapsed)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and lines[0].startswith("error: "), (case, result.stderr)
        assert all(line.startswith(("error: ", "hint: ")) for line in lines), (case, result.stderr)


def check_plan_file(folder: Path, text: str, case: str) -> None:
    """Run one plan text through ``plan`` and ``create`` in ``folder`` and check every promise."""
    plan_file = folder / "plan.yaml"
    plan_file.write_text(text, encoding="utf-8")
    root = folder / "root"
    root.mkdir()
    outside = [name for name in files_under(folder) if not name.startswith("root")]

    result, elapsed = run("plan", str(plan_file), "--root", str(root))
    assert_clean_outcome(result, elapsed, {0, 2}, case)
    assert files_under(root) == [], case

    result, elapsed = run("create", str(plan_file), "--yes", "--root", str(root), "--max-runs", CREATE_LIMIT)
    assert_clean_outcome(result, elapsed, {0, 2, 3}, case)
    assert [name for name in files_under(folder) if not name.startswith("root")] == outside, case
    made = list(root.iterdir())
    if result.exit_code == 0:
        assert len(made) == 1 and (made[0] / "expset.yaml").is_file(), (case, made)
    else:
        assert made == [], (case, made)  # no partial set, no staging folder left behind


@pytest.mark.parametrize("block", range(4))
def test_generated_and_mutated_plans_give_a_set_or_a_one_line_error(block, tmp_path, memory_cap):
    for seed in range(block * CASES // 4, (block + 1) * CASES // 4):
        text = plan_text(random.Random(seed))
        folder = tmp_path / f"case{seed}"
        folder.mkdir()
        check_plan_file(folder, text, f"seed {seed}: {text[:200]!r}")

"""The plan files fuzzing found harmful, each as a case: every one is a one-line error naming the line or
field, exit code 2, in bounded time and memory, and nothing is written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expset.cli.app import app

from helpers import tree

HEADER = "purpose: Hostile input.\nvary:\n  lora_rank: [8, 16]\n"
"""Three lines of a sound plan; each case below adds its fourth line and beyond."""


def expset(*args: str):
    return CliRunner().invoke(app, list(args))


def write(folder: Path, text: str) -> str:
    (folder / "plan.yaml").write_text(text, encoding="utf-8")
    (folder / "root").mkdir()
    return "plan.yaml"


def assert_one_line_error(result, *expected: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.startswith("error: "), result.stderr
    assert all(line.startswith(("error: ", "hint: ")) for line in result.stderr.splitlines()), result.stderr
    for text in expected:
        assert text in errors[0], errors[0]


READER_CASES = {
    "impossible date": ("date: 2025-02-30", "'2025-02-30' is not a real date"),
    "impossible date and time": ("date: 2025-13-01 25:61:00", "is not a real date or time (month must be in 1..12)"),
    "year zero": ("date: 0000-01-01", "is not a real date"),
    "float tag on text": ("fixed: {lr: !!float abc}", "'abc' is not a number — remove the !!float tag"),
    "int tag on text": ("fixed: {epochs: !!int abc}", "'abc' is not a whole number — remove the !!int tag"),
    "int tag on nothing": ('fixed: {epochs: !!int ""}', "is not a whole number"),
    "bool tag on text": ("fixed: {x: !!bool maybe}", "'maybe' is not true or false"),
    "float beyond a float": ("fixed: {lr: 1e999}", "'1e999' is too large for a number"),
    "400-digit whole number": ("fixed: {lr: 1" + "0" * 400 + "}", "is too large for a number"),
    "5,000-digit whole number": ("fixed: {seed: 1" + "0" * 5000 + "}", "has too many digits for a number"),
    "huge hexadecimal number": ("fixed: {seed: 0x" + "f" * 1200 + "}", "is too large for a number"),
    "alias inside itself": ("fixed: {x: &a [1, *a]}", "alias *a is inside the value &a it names"),
}


@pytest.mark.parametrize("line, expected", READER_CASES.values(), ids=READER_CASES.keys())
def test_a_value_the_reader_cannot_convert_is_one_line_naming_the_line(line, expected, isolated_environment):
    plan = write(isolated_environment, HEADER + line + "\n")
    for command in (["plan", plan], ["create", plan, "--yes", "--root", "root"]):
        assert_one_line_error(expset(*command), "error: plan.yaml:4: ", expected)
    assert tree(isolated_environment / "root") == []


def test_a_syntax_error_names_the_line_and_hints_at_indentation_and_quoting(isolated_environment):
    plan = write(isolated_environment, HEADER + "fixed:\n  lr: [1e-4\nnotes: x\n")
    result = expset("plan", plan)
    assert_one_line_error(result, "error: plan.yaml:6: ")
    assert "hint: check the indentation and quoting near that line (YAML)" in result.stderr


def test_values_with_line_breaks_stay_on_the_one_error_line(isolated_environment):
    plan = write(isolated_environment, 'purpose: p\nlabels: {x: a label}\nvary:\n  x: ["a\\nb", "a b"]\n')
    assert_one_line_error(expset("plan", plan), r"{x: 'a\nb'} and {x: a b} would both be named 'x-a-b'")


def test_keys_with_line_breaks_stay_on_the_one_error_line(isolated_environment):
    plan = write(isolated_environment, 'purpose: p\nvary:\n  "a\\nb": [1, 2]\n')
    assert_one_line_error(expset("plan", plan), r"vary.a\nb: is not a setting expset knows")


def test_the_default_limit_is_ten_thousand_runs(isolated_environment):
    plan = write(isolated_environment, f"purpose: p\nvary:\n  seed: [{', '.join(map(str, range(10_001)))}]\n")
    assert_one_line_error(expset("plan", plan), "make 10,001 runs, more than the limit of 10,000")


def test_max_runs_sets_the_limit_for_plan_and_create(isolated_environment):
    plan = write(isolated_environment, HEADER + "  seed: [1, 2]\n")
    result = expset("plan", plan, "--max-runs", "3")
    assert_one_line_error(result, "vary: 2 lora_rank × 2 seed make 4 runs, more than the limit of 3")
    assert "hint: vary fewer values, or raise the limit with --max-runs 4" in result.stderr
    assert expset("plan", plan, "--max-runs", "4").exit_code == 0
    result = expset("create", plan, "--yes", "--root", "root", "--max-runs", "3")
    assert_one_line_error(result, "more than the limit of 3")
    assert tree(isolated_environment / "root") == []
    assert expset("create", plan, "--yes", "--root", "root", "--max-runs", "4").exit_code == 0


def test_a_long_value_repeated_into_every_run_is_refused_before_writing(isolated_environment):
    seeds = ", ".join(map(str, range(2_000)))
    plan = write(
        isolated_environment,
        f"purpose: p\nlabels: {{note: a note}}\nfixed:\n  note: {'x' * 60_000}\nvary:\n  seed: [{seeds}]\n",
    )
    result = expset("create", plan, "--yes", "--root", "root")
    assert_one_line_error(result, "fixed.note: 60,000 characters, written into each of the 2,000 runs' files")
    assert tree(isolated_environment / "root") == []


MEASURED_CHILD = """
import atexit, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, resource.RLIM_INFINITY))
resource.setrlimit(resource.RLIMIT_CPU, (30, resource.RLIM_INFINITY))

def peak():
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))

atexit.register(peak)
sys.argv = ["expset", *sys.argv[2:]]
from expset.cli.main import main
main()
"""
"""Runs expset with at most 2 GiB of address space and 30 s of CPU, so a regression fails instead of
exhausting the machine, and writes its own peak resident memory (``VmHWM``, which counts only this
program, not the test process it was started from) when it ends."""


def run_measured(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run ``expset`` in a child process: its result, seconds taken and peak memory in MiB."""
    peak_file = folder / "peak"
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", MEASURED_CHILD, str(peak_file), *args], cwd=folder, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    peak = int(peak_file.read_text()) // 1024 if peak_file.exists() else 0
    return completed, elapsed, peak


def billion_laughs() -> str:
    lines = ["purpose: p", "fixed:", "  a0: &a0 [" + ", ".join(["xxxxxxxxxx"] * 10) + "]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join([*lines, "vary: {x: [1, 2]}", ""])


def aliased_large_value() -> str:
    keys = "".join(f"  k{i}: *big\n" for i in range(20))
    seeds = ", ".join(map(str, range(1_000)))
    return f"purpose: p\nfixed:\n  big: &big {'x' * 100_000}\n{keys}vary:\n  seed: [{seeds}]\n"


RESOURCE_CASES = {
    "list nested 100,000 deep": ("purpose: p\nvary:\n  x: " + "[" * 100_000 + "]" * 100_000 + "\n", ":3: "),
    "mapping nested 100,000 deep": ("purpose: p\nvary:\n  x: " + "{a: " * 100_000 + "}" * 100_000 + "\n", ":3: "),
    "block lists nested 60 deep": (
        "purpose: p\nvary:\n  x:\n" + "".join(" " * (2 * i + 4) + "-\n" for i in range(60)),
        "lists and mappings are nested more than 50 levels deep",
    ),
    "billion laughs": (billion_laughs(), "aliases expand to more than 100,000 values and characters"),
    "large value aliased into every run": (aliased_large_value(), "aliases expand to more than 100,000"),
    "a million runs": (
        "purpose: p\nlabels: {p0: a, p1: a, p2: a, p3: a, p4: a, p5: a}\nvary:\n"
        + "".join(f"  p{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for i in range(6)),
        "vary: 10 p0 × 10 p1 × 10 p2 × 10 p3 × 10 p4 × 10 p5 make 1,000,000 runs, more than the limit of 10,000",
    ),
    "a billion runs": (
        "purpose: p\nlabels: {"
        + ", ".join(f"p{i}: a" for i in range(9))
        + "}\nvary:\n"
        + "".join(f"  p{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for i in range(9)),
        "make 1,000,000,000 runs",
    ),
}


@pytest.mark.parametrize("text, expected", RESOURCE_CASES.values(), ids=RESOURCE_CASES.keys())
def test_plans_that_once_crashed_hung_or_exhausted_memory_fail_fast_in_little_memory(text, expected, tmp_path):
    (tmp_path / "plan.yaml").write_text(text)
    (tmp_path / "root").mkdir()
    completed, elapsed, peak_mib = run_measured(tmp_path, "create", "plan.yaml", "--yes", "--root", "root")
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert completed.stderr.startswith("error: ") and expected in completed.stderr.splitlines()[0], completed.stderr
    assert "Traceback" not in completed.stderr
    assert elapsed < 10 and peak_mib < 300, (elapsed, peak_mib)
    assert tree(tmp_path / "root") == []

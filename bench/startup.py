"""Benchmark: start-up time of ``expset --help``, ``expset plan <seed example>`` and shell completion.

Each command is timed as a whole process, like ``python -c pass`` with the same interpreter,
and reported as a ratio to it. Goals: ``--help`` at most 4x, ``plan`` at most 8x; a Tab (the
shell runs ``expset`` once per Tab) at most 8x, like any command that builds the app.

    python bench/startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "size-rank.yaml"


def wall_time(argv: list[str], repeat: int, cwd: str, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            argv,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    expset = str(Path(sys.executable).with_name("expset"))
    if not os.path.exists(expset):
        sys.exit(f"no expset console script beside {sys.executable}: pip install the project first")
    with tempfile.TemporaryDirectory() as cwd:
        wall_time([sys.executable, "-c", "pass"], 3, cwd)  # warm the file cache for everyone
        wall_time([expset, "--help"], 3, cwd)
        baseline = wall_time([sys.executable, "-c", "pass"], args.repeat, cwd)
        rows = [
            ("python -c pass", baseline, None),
            ("expset --help", wall_time([expset, "--help"], args.repeat, cwd), 4),
            ("expset --version", wall_time([expset, "--version"], args.repeat, cwd), 4),
            (
                "expset plan examples/size-rank.yaml",
                wall_time([expset, "plan", str(SEED_EXAMPLE)], args.repeat, cwd),
                8,
            ),
        ]
        subprocess.run([expset, "create", str(SEED_EXAMPLE), "--yes", "--root", cwd], check=True, capture_output=True)
        for line, word in (("expset status ", 2), ("expset which SET 1B", 3)):
            [name] = os.listdir(cwd)
            tab = {
                "COMP_WORDS": line.replace("SET", name),
                "COMP_CWORD": str(word),
                "_EXPSET_COMPLETE": "complete_bash",
            }
            rows.append((f"Tab after `{line.strip()}`", wall_time([expset], args.repeat, cwd, tab), 8))
    print(f"{'command':<38} {'ms':>7} {'ratio':>6} {'goal':>5}")
    for name, seconds, goal in rows:
        ratio = seconds / baseline
        print(f"{name:<38} {seconds * 1000:>7.1f} {ratio:>6.2f} {'' if goal is None else f'≤{goal}':>5}")


if __name__ == "__main__":
    main()

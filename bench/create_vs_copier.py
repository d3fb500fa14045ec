"""Benchmark: ``expset create`` against copier making the same 400-run tree. Goal: at least 30x faster.

The tree is a set folder holding README.md and one folder per run, each with its run.yaml (the run's
parameters) and ``evaluations/<task>/`` for 3 tasks. copier (``pip install -e '.[bench]'``) makes it
in one ``copier copy`` from a folder template built here: its ``yield`` tag turns one templated run
folder into all of them, with the run names and parameters (taken from ``expset plan --json``) passed
as a data file. Both are timed as whole processes, interleaved, each into a fresh empty folder and
until the data is flushed to disk; after each measurement both trees are counted and must match.
expset writes three more files than copier is asked to (runs_plan.md, expset.yaml, runs.csv).

    python bench/create_vs_copier.py [--runs N] [--repeat N] [--startup-repeat N] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import create_sets

TASKS = create_sets.TASKS
GOAL = 30
AUTHOR, DATE = "bench", "2026-01-01"

RUN_FOLDER = "{% yield run from runs %}{{ run.name }}{% endyield %}"
TASK_FOLDER = "{% yield task from evaluations %}{{ task }}{% endyield %}"

COPIER_YML = "_templates_suffix: .jinja\n"

README = """\
# {{ set_name }}

{{ purpose }}

Created on {{ date }} by {{ author }}. {{ runs | length }} runs, each evaluated on {{ evaluations | join(", ") }}.

## What varies

| parameter | values | in run names as | rule |
|---|---|---|---|
{% for p in parameters %}| `{{ p.key }}` | {{ p.tokens | map(attribute="value") | join(", ") }} \
| {% for t in p.tokens %}`{{ t.token }}`{{ ", " if not loop.last }}{% endfor %} | {{ p.rule }} |
{% endfor %}
## What is fixed

| parameter | value |
|---|---|
{% for key, value in fixed.items() %}| `{{ key }}` | {{ value }} |
{% endfor %}
## Naming convention

Run folders are named `{{ template }}`. Fixed parameters never appear in names.

## Runs

{% for run in runs %}- `{{ run.name }}`
{% endfor %}"""

RUN_YAML = """\
# Run {{ run.name }} of experiment set {{ set_name }} (copier).
# Its parameters, so this folder explains itself even when archived on its own.
run: {{ run.name }}
kind: fine-tuned
set: {{ set_name }}
purpose: {{ purpose }}
created: "{{ date }}"
author: {{ author }}
varied:
{% for key, value in run.parameters.items() %}  {{ key }}: {{ value }}
{% endfor %}fixed:
{% for key, value in fixed.items() %}  {{ key }}: {{ value }}
{% endfor %}evaluations: [{{ evaluations | join(", ") }}]
"""


def plan_data(runs: int) -> dict:
    """The plan of bench/create_sets.py, without control runs: copier is asked for the runs alone."""
    return {**create_sets.plan_data(runs), "controls": False}


def write_plan(root: Path, runs: int) -> Path:
    path = root / f"plan-{runs}.yaml"
    path.write_text(json.dumps(plan_data(runs), indent=1))  # JSON is YAML
    return path


def copier_data(expset: str, plan: Path, root: Path) -> Path:
    """What copier needs to make the set expset proposes, from ``expset plan --json`` (not timed)."""
    argv = [expset, "plan", str(plan), "--json", "--author", AUTHOR, "--date", DATE, "--root", str(root)]
    proposal = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True, cwd=root).stdout)
    data = {
        "set_name": proposal["set_name"],
        "purpose": proposal["purpose"],
        "author": proposal["author"],
        "date": proposal["date"],
        "template": proposal["convention"]["template"],
        "parameters": proposal["convention"]["parameters"],
        "fixed": proposal["fixed"],
        "evaluations": [e if isinstance(e, str) else e["name"] for e in proposal["evaluations"]],
        "runs": proposal["runs"],
    }
    path = plan.with_suffix(".copier-data.yaml")
    path.write_text(json.dumps(data))  # JSON is YAML
    return path


def build_template(root: Path) -> Path:
    """A plain folder template, not a git repository: git keeps no empty folder, so copier's clone of one
    would make no ``evaluations/<task>/`` (and be quicker for it)."""
    template = root / "template"
    set_folder = template / "{{ set_name }}"
    run_folder = set_folder / RUN_FOLDER
    (run_folder / "evaluations" / TASK_FOLDER).mkdir(parents=True)
    (template / "copier.yml").write_text(COPIER_YML)
    (set_folder / "README.md.jinja").write_text(README)
    (run_folder / "run.yaml.jinja").write_text(RUN_YAML)
    return template


def timed(argv: list[str], cwd: Path, flush: bool = True) -> float:
    """Wall time of one whole process, until its writes are flushed to disk."""
    os.sync()  # the previous measurement's writes and deletions are not billed to this one
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    if flush:
        os.sync()
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed with exit status {result.returncode}; run it by hand to see why: {' '.join(argv)}")
    return elapsed


def time_floor(data: Path, root: Path) -> float:
    """A plain ``os.mkdir`` loop making the same folders, and no file, in this process, until flushed."""
    runs = [run["name"] for run in json.loads(data.read_text())["runs"]]
    target = root / "floor"
    os.sync()
    start = time.perf_counter()
    os.mkdir(target)
    for run in runs:
        os.makedirs(target / run / "evaluations")
        for task in TASKS:
            os.mkdir(target / run / "evaluations" / task)
    os.sync()
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def split_expset(expset: str, plan: Path, data: Path, root: Path, repeat: int) -> dict[str, float]:
    """Where expset's time goes: start-up alone, everything but writing (``plan`` shows the same proposal
    ``create`` does), then ``create``; and the ``os.mkdir`` floor. Interleaved, medians."""
    common = [str(plan), "--author", AUTHOR, "--date", DATE]
    target = root / "out-split"
    times: dict[str, list[float]] = {"version": [], "plan": [], "create": [], "floor": []}
    for _ in range(repeat):
        times["version"].append(timed([expset, "--version"], root, flush=False))
        times["plan"].append(timed([expset, "plan", *common, "--root", str(root)], root, flush=False))
        target.mkdir()
        times["create"].append(timed([expset, "create", *common, "--yes", "--root", str(target)], root))
        shutil.rmtree(target)
        times["floor"].append(time_floor(data, root))
    return {key: statistics.median(values) for key, values in times.items()}


def tree_shape(target: Path) -> tuple[str, bool, int, int, int]:
    """The set folder's name, whether it has README.md, and its run folders, run.yaml files, evaluation folders."""
    (set_folder,) = target.iterdir()
    runs = [p for p in set_folder.iterdir() if p.is_dir()]
    run_yamls = sum((run / "run.yaml").is_file() for run in runs)
    evaluations = sum(
        p.is_dir() for run in runs if (run / "evaluations").is_dir() for p in (run / "evaluations").iterdir()
    )
    return set_folder.name, (set_folder / "README.md").is_file(), len(runs), run_yamls, evaluations


def parameters_of(run_yaml: Path) -> list[str]:
    return [line for line in run_yaml.read_text().splitlines() if not line.startswith("#")]


def spread(times: list[float]) -> str:
    return f"{min(times):.2f}–{max(times):.2f}"


def measure_pair(expset: str, copier: str, plan: Path, data: Path, template: Path, root: Path, first: str) -> dict:
    """One interleaved measurement of both tools, each into a fresh empty folder; checks they made the same tree."""
    targets = {"expset": root / "out-expset", "copier": root / "out-copier"}
    argvs = {
        "expset": [expset, "create", str(plan), "--yes", "--root", str(targets["expset"])],
        "copier": [copier, "copy", "--trust", "--defaults", "--quiet", "--data-file", str(data)],
    }
    argvs["expset"] += ["--author", AUTHOR, "--date", DATE]
    argvs["copier"] += [str(template), str(targets["copier"])]
    times = {}
    for tool in (first, "copier" if first == "expset" else "expset"):
        targets[tool].mkdir()
        times[tool] = timed(argvs[tool], root)
    runs = len(json.loads(data.read_text())["runs"])
    shapes = {tool: tree_shape(target) for tool, target in targets.items()}
    assert shapes["expset"] == shapes["copier"], shapes
    assert shapes["expset"][1:] == (True, runs, runs, runs * len(TASKS)), shapes
    sets = [target / shapes[tool][0] for tool, target in targets.items()]
    for run in sets[0].iterdir():
        if run.is_dir():  # every run.yaml holds the same lines, comments aside
            assert parameters_of(run / "run.yaml") == parameters_of(sets[1] / run.name / "run.yaml"), run.name
    for target in targets.values():
        shutil.rmtree(target)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs in the set, a multiple of 4 (default: 400)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements of each tool (default: 3)")
    parser.add_argument(
        "--startup-repeat", type=int, default=10, help="measurements of expset's time split (default: 10)"
    )
    parser.add_argument("--root", type=Path, default=None, help="file system to measure on (default: a temp dir)")
    args = parser.parse_args()
    if args.runs % 4:
        parser.error("--runs must be a multiple of 4")
    expset, copier = (str(Path(sys.executable).with_name(name)) for name in ("expset", "copier"))
    if not os.path.exists(expset):
        sys.exit(f"no expset console script beside {sys.executable}: pip install the project first")
    if not os.path.exists(copier):
        sys.exit(f"no copier beside {sys.executable}: pip install -e '.[bench]'")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(
            "note: PYTHONDONTWRITEBYTECODE is set, so an editable install recompiles expset at every start",
            file=sys.stderr,
        )
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        template = build_template(root)
        small = write_plan(root, 4)  # warms the file cache for both and checks the setup, not timed
        measure_pair(expset, copier, small, copier_data(expset, small, root), template, root, "expset")
        plan = write_plan(root, args.runs)
        data = copier_data(expset, plan, root)
        ours, theirs = [], []
        for i in range(args.repeat):  # interleaved, alternating which goes first
            times = measure_pair(expset, copier, plan, data, template, root, ("copier", "expset")[i % 2])
            ours.append(times["expset"])
            theirs.append(times["copier"])
        mine, peer = statistics.median(ours), statistics.median(theirs)
        ratio = peer / mine
        print(f"{args.runs} runs x {len(TASKS)} evaluation tasks, median of {args.repeat}")
        print(f"{'tool':<8} {'seconds':>8} {'range':>13} {'ratio':>6}  goal")
        print(f"{'copier':<8} {peer:>8.2f} {spread(theirs):>13}")
        verdict = "met" if ratio >= GOAL else "NOT met"
        print(f"{'expset':<8} {mine:>8.2f} {spread(ours):>13} {ratio:>6.1f}  >= {GOAL}x {verdict}")

        split = split_expset(expset, plan, data, root, args.startup_repeat)
        print(f"\nexpset create alone, split (median of {args.startup_repeat}, interleaved):")
        print(f"  {'start-up (expset --version)':<52} {split['version']:>6.2f} s")
        print(
            f"  {'imports, validation, naming, preview (plan - above)':<52} {split['plan'] - split['version']:>6.2f} s"
        )
        print(f"  {'rendering, writing, flushing (create - plan)':<52} {split['create'] - split['plan']:>6.2f} s")
        print(f"  {'expset create':<52} {split['create']:>6.2f} s")
        print("against:")
        print(f"  {f'the time that meets the goal (copier / {GOAL})':<52} {peer / GOAL:>6.2f} s")
        print(f"  {'the same folders, no file, by an os.mkdir loop':<52} {split['floor']:>6.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

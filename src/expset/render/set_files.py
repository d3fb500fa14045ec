"""The text of every file of a new experiment set, rendered from the designed set.

``render_set_files`` yields ``(relative path, text)`` lazily, so a 10,000-run set is never held in
memory whole. No writes happen here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from expset.core.layout import (
    CONFIG_FILE,
    EVALUATIONS_DIR,
    FINETUNE_SCRIPT,
    LOG_DIR,
    PLAN_FILE,
    RUN_FILE,
    SETUP_FILE,
    FileKind,
    SetLayout,
    epoch_dir,
)
from expset.core.naming import ExperimentSet, decode_run_name
from expset.core.record import set_record
from expset.core.values import format_value
from expset.render.templates import render, template
from expset.render.yaml_text import to_yaml

RUN_CONTEXT = ("version", "set_name", "purpose", "date", "author", "fixed", "tasks")
"""What ``run.yaml.j2`` needs besides the run itself: a small context renders 10,000 files faster."""

README_RUN_LIMIT = 50
"""The README lists this many runs; runs_plan.md and runs.csv always list all of them."""
LEFT_OUT = "(left out)"
"""How the README shows the token of the value left out of run names (``ParameterNaming.omitted``)."""
HISTORY_RUN_LIMIT = 10
"""The README's history names this many of the runs a change added or removed."""


Deviations = Mapping[str, Mapping[str, Any]]
"""Per run, what its hand-edited setup changes from the plan: setup path → the value it runs with."""


def render_set_files(
    experiment_set: ExperimentSet, layout: SetLayout, version: str, deviations: Deviations | None = None
) -> Iterator[tuple[str, str]]:
    """Every file of ``layout`` with its text; ``deviations``, recorded by scaffold, where runs have them."""
    deviations = deviations or {}
    context = set_context(experiment_set, version, deviations)
    run_template = template("run.yaml.j2")
    run_context = {key: context[key] for key in RUN_CONTEXT}
    for planned in layout.files:
        if planned.kind is FileKind.RUN:
            assert planned.run_index is not None
            run = experiment_set.all_runs[planned.run_index]
            run_context["run"], run_context["varied"], run_context["kind"] = run.name, run.varied, run.kind
            run_context["source"] = run.source
            run_context["deviations"] = deviations.get(run.name, {})
            text = run_template.render(run_context)
        elif planned.kind is FileKind.README:
            text = render("README.md.j2", context)
        elif planned.kind is FileKind.RUNS_PLAN:
            text = render("runs_plan.md.j2", context)
        elif planned.kind is FileKind.PLAN:
            text = render_plan_file(experiment_set, version)
        else:
            text = render_runs_table(experiment_set, deviations)
        yield planned.path, text


def render_plan_file(experiment_set: ExperimentSet, version: str) -> str:
    """``expset.yaml``: the resolved plan and its convention, as data with a short header."""
    header = (
        f"# {PLAN_FILE}: the approved plan of experiment set {experiment_set.set_name}, fully resolved.\n"
        "# Written by expset; `expset which <set> <run>` decodes run names with it. Do not edit:\n"
        "# `expset extend` adds runs, `expset remove` takes them out, anything else is a new set.\n"
    )
    return header + to_yaml(set_record(experiment_set, version))


def render_runs_table(experiment_set: ExperimentSet, deviations: Deviations | None = None) -> str:
    """``runs.csv``: one row per run, its name and kind, then every parameter (varied, then fixed); a control
    run's row holds only its model, the other cells blank: nothing else applies to an untuned model. When a
    run deviates from the plan, a last column says how (``path=value; …``)."""
    varied = list(experiment_set.plan.vary)
    fixed = list(experiment_set.plan.fixed)
    deviations = deviations or {}
    extra = ["deviations"] if any(deviations.values()) else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "kind", *varied, *fixed, *extra])
    fixed_cells = [_csv_cell(experiment_set.plan.fixed[key]) for key in fixed]

    def changes(run: str) -> list[str]:
        made = deviations.get(run, {})
        return ["; ".join(f"{path}={_csv_cell(value)}" for path, value in made.items())] if extra else []

    for run in experiment_set.runs:
        cells = [_csv_cell(run.varied[key]) for key in varied]
        writer.writerow([run.name, run.kind, *cells, *fixed_cells, *changes(run.name)])
    for run in experiment_set.controls + experiment_set.evaluation_only:  # a model only: nothing else applies
        cells = [_csv_cell(run.varied.get(key, "")) for key in [*varied, *fixed]]
        writer.writerow([run.name, run.kind, *cells, *changes(run.name)])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(format_value(item) for item in value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return format_value(value)


def set_context(experiment_set: ExperimentSet, version: str, deviations: Deviations | None = None) -> dict[str, Any]:
    """Plain data the README and runs_plan templates format; nothing in them is typed by hand."""
    plan = experiment_set.plan
    convention = experiment_set.convention
    runs = experiment_set.runs
    example = runs[-1]
    by_key = {p.key: p for p in convention.parameters}
    return {
        "version": version,
        "set_name": experiment_set.set_name,
        "purpose": plan.purpose.strip(),
        "author": plan.author,
        "date": plan.date.isoformat() if plan.date else "",
        "notes": (plan.notes or "").strip(),
        "single_run_reason": (plan.single_run_reason or "").strip(),
        "tasks": plan.task_names,
        "evaluations_dir": EVALUATIONS_DIR,
        "run_file": RUN_FILE,
        "setup_file": SETUP_FILE,
        "config_file": CONFIG_FILE,
        "finetune_script": FINETUNE_SCRIPT,
        "log_dir": LOG_DIR,
        "epoch_dirs": [epoch_dir(0), epoch_dir(1)],
        "plan_file": PLAN_FILE,
        "varied": [
            {
                "key": p.key,
                "rule": p.rule,
                "values": [{"value": format_value(v), "text": p.token_of(v, convention) or LEFT_OUT} for v in p.values],
            }
            for p in convention.parameters
        ],
        "fixed": [{"key": key, "value": value} for key, value in plan.fixed.items()],
        "template": convention.template,
        "custom_template": convention.custom_template,
        "example": {
            "name": example.name,
            "parts": [
                {"key": key, "value": format_value(value), "text": by_key[key].token_of(value, convention)}
                for key, value in example.varied.items()
            ],
        },
        "run_count": len(runs),
        "removed_count": sum(1 for name in experiment_set.removed if decode_run_name(convention, name) is not None),
        "runs": [{"name": run.name, "varied": run.varied} for run in runs],
        "controls": [{"name": run.name, "model": format_value(run.varied["model"])} for run in experiment_set.controls],
        "evaluation_only": [
            {"name": run.name, "model": format_value(run.varied["model"]), "source": run.source}
            for run in experiment_set.evaluation_only
        ],
        "deviations": [
            {"run": run, "changes": [{"path": path, "value": _csv_cell(value)} for path, value in changed.items()]}
            for run, changed in (deviations or {}).items()
            if changed
        ],
        "history": [
            {
                "date": entry.date,
                "author": entry.author,
                "summary": entry.summary,
                "runs": ", ".join(f"`{run}`" for run in entry.runs[:HISTORY_RUN_LIMIT])
                + (f" and {len(entry.runs) - HISTORY_RUN_LIMIT} more" if len(entry.runs) > HISTORY_RUN_LIMIT else ""),
            }
            for entry in experiment_set.history
        ],
        "readme_run_limit": README_RUN_LIMIT,
        "shortened": [run.name for run in runs if run.shortened],
    }

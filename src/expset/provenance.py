"""Deviations from the plan, recorded where a reader of the set looks.

When a run's ``setup_finetune.yaml`` is edited by hand, scaffold records what it changes (setup path →
value) in ``.expset/deviations.json``, and brings ``README.md``, ``runs.csv`` and the run's ``run.yaml``
up to date with it — each only when it is still the text expset wrote (rendered with the deviations
recorded before): a file a researcher edited is never overwritten, and a note says it was left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from expset.core.layout import DEVIATIONS_RECORD, PLAN_FILE, README_FILE, RUN_FILE, RUNS_TABLE_FILE, plan_layout
from expset.core.naming import ExperimentSet
from expset.render.set_files import Deviations

UPDATED_FILES = (README_FILE, RUNS_TABLE_FILE)
"""The set-level files that list deviations; each run's own is its run.yaml."""


def read_deviations(set_dir: Path) -> dict[str, dict[str, Any]]:
    """The deviations scaffold last recorded; none when it never did (or the record is unreadable)."""
    try:
        data = json.loads((set_dir / DEVIATIONS_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (
        {run: dict(changes) for run, changes in data.items() if isinstance(changes, dict)}
        if isinstance(data, dict)
        else {}
    )


def render_deviations(deviations: Deviations) -> str:
    """The text of ``.expset/deviations.json``."""
    return json.dumps({run: dict(changes) for run, changes in sorted(deviations.items()) if changes}, indent=1) + "\n"


def set_file_updates(
    experiment_set: ExperimentSet, set_dir: Path, before: Deviations, after: Deviations
) -> tuple[list[tuple[Path, str]], list[str]]:
    """(path, new text) for each set file that lists deviations and changes with them, and a note for each
    such file that was edited by hand and so is left as it is."""
    from expset.render.set_files import render_set_files

    if _kept(before) == _kept(after):
        return [], []
    version = _recorded_version(set_dir)
    layout = plan_layout(experiment_set)
    changed_runs = {run for run in before.keys() | after.keys() if before.get(run) != after.get(run)}
    wanted = {*UPDATED_FILES, *(f"{run}/{RUN_FILE}" for run in changed_runs)}
    old = dict(_select(render_set_files(experiment_set, layout, version, before), wanted))
    new = dict(_select(render_set_files(experiment_set, layout, version, after), wanted))
    updates, notes = [], []
    for relative in sorted(wanted & new.keys()):
        path = set_dir / relative
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            continue  # a run folder removed by hand: nothing to bring up to date
        if current == new[relative]:
            continue
        if current == old[relative]:
            updates.append((path, new[relative]))
        else:
            notes.append(f"{relative} was edited by hand, so it does not list the deviations; {DEVIATIONS_RECORD} does")
    return updates, notes


def _kept(deviations: Deviations) -> dict[str, dict[str, Any]]:
    return {run: dict(changes) for run, changes in deviations.items() if changes}


def _select(files: Any, wanted: set[str]) -> Any:
    return ((path, text) for path, text in files if path in wanted)


def _recorded_version(set_dir: Path) -> str:
    """The expset version that wrote the set's files, as ``expset.yaml`` records it."""
    from expset.render.yaml_read import load_yaml

    record = load_yaml((set_dir / PLAN_FILE).read_text(encoding="utf-8"), PLAN_FILE)
    return str(record.get("expset_version", "")) if isinstance(record, dict) else ""

"""What each run ran with, kept where a reader of the set looks.

When a run's ``setup_finetune.yaml`` is edited by hand, scaffold measures the edit against the setup it
last wrote there (kept in ``.expset/setups/``), so that neither a newer expset nor a changed profile is
mistaken for an edit. An edit of a varied parameter is refused; any other is the run's deviation,
recorded in ``.expset/deviations.json``, and ``README.md``, ``runs.csv`` and the run's ``run.yaml`` are
brought up to date with it — each only when it is still the text expset wrote (rendered with the
deviations recorded before): a file a researcher edited is never overwritten, and a note says so.

Each fine-tune's job record keeps the digest of the training inputs its script was written from, and
``.expset/training.json`` the digest of the scripts now there: ``status`` tells a finished run whose
training inputs changed since it ran.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from expset.core.deviations import deviations, identity_edits
from expset.core.layout import (
    DEVIATIONS_RECORD,
    PLAN_FILE,
    README_FILE,
    RUN_FILE,
    RUNS_TABLE_FILE,
    TRAINING_DIGESTS,
    plan_layout,
    setup_snapshot,
)
from expset.core.naming import ExperimentSet, Run
from expset.core.run_setup import RunSetup
from expset.core.values import format_value
from expset.errors import SetupError
from expset.render.set_files import Deviations

UPDATED_FILES = (README_FILE, RUNS_TABLE_FILE)
"""The set-level files that list deviations; each run's own is its run.yaml."""


def read_deviations(set_dir: Path) -> dict[str, dict[str, Any]]:
    """The deviations scaffold last recorded; none when it never did (or the record is unreadable)."""
    data = _read_state(set_dir / DEVIATIONS_RECORD)
    return {run: dict(changes) for run, changes in data.items() if isinstance(changes, dict)}


def read_training_digests(set_dir: Path) -> dict[str, str]:
    """Per run, the digest of the training inputs its scripts were last written from."""
    return {run: value for run, value in _read_state(set_dir / TRAINING_DIGESTS).items() if isinstance(value, str)}


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def render_state(data: Mapping[str, Any]) -> str:
    """The text of one of these state files, runs in order, empty entries left out."""
    return json.dumps({run: value for run, value in sorted(data.items()) if value}, indent=1) + "\n"


def checked_deviations(
    set_dir: Path, run: Run, derived: RunSetup, edited: RunSetup, setup_path: Path
) -> dict[str, Any]:
    """What a hand-edited setup changes from the one expset last wrote there (else, for a set scaffolded
    before that was kept, from the one the plan gives now); a ``SetupError`` when it changes a varied
    parameter, which names the run and must stay what the plan says."""
    written = _written_setup(set_dir, run.name)
    changed = deviations(written or derived, edited)
    for key, path in identity_edits(list(run.varied), changed):
        if written is None and path == "data.path" and _same_data(str(run.varied[key]), str(changed[path])):
            continue  # the plan's file where the set was first scaffolded: the set moved, its data did not
        raise SetupError(
            f"{setup_path}: {path} is edited, but {key} varies across the set and names this run — "
            "change the plan instead (a new set), or undo the edit",
            hint=f"a varied parameter is the run's identity: its name, run.yaml and the evaluations say {key} is "
            f"{format_value(run.varied[key])}",
        )
    return changed


def _written_setup(set_dir: Path, run: str) -> RunSetup | None:
    """The setup expset last wrote for ``run``, or None when none was kept (or it no longer reads)."""
    from expset.sets import read_setup

    path = set_dir / setup_snapshot(run)
    if not path.is_file():
        return None
    try:
        return read_setup(path)
    except SetupError:
        return None


def _same_data(dataset: str, path: str) -> bool:
    """Whether ``path`` ends with the data file the plan names (``v1/train`` in ``/old/data/v1/train.jsonl``)."""
    named = [part for part in Path(dataset).parts if part not in ("/", ".")]
    if not named:
        return False
    found = Path(path).parts if Path(named[-1]).suffix else Path(path).with_suffix("").parts
    return list(found[-len(named) :]) == named


def set_file_updates(
    experiment_set: ExperimentSet, set_dir: Path, before: Deviations, after: Deviations
) -> tuple[list[tuple[Path, str]], list[str]]:
    """(path, new text) for each set file that lists deviations and changes with them, and a note for each
    such file that was edited by hand and so is left as it is."""
    from expset.render.set_files import render_set_files

    if _kept(before) == _kept(after):
        return [], []
    version = recorded_version(set_dir)
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


def recorded_version(set_dir: Path) -> str:
    """The expset version that wrote the set's files, as ``expset.yaml`` records it."""
    from expset.render.yaml_read import load_yaml

    record = load_yaml((set_dir / PLAN_FILE).read_text(encoding="utf-8"), PLAN_FILE)
    return str(record.get("expset_version", "")) if isinstance(record, dict) else ""

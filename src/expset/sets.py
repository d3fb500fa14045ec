"""A set on disk, read back: its record, its runs, a run's setup. Every command after ``create`` starts here."""

from __future__ import annotations

import os
from pathlib import Path

from expset.core.layout import PLAN_FILE
from expset.core.naming import ExperimentSet, Run
from expset.core.record import experiment_set_from_record, without_runs
from expset.core.run_setup import LOCATION_KEYS, RunSetup, validate_setup
from expset.errors import SetNotFoundError, SetupError, UsageError


def load_set(set_dir: Path) -> ExperimentSet:
    """The set recorded in ``set_dir/expset.yaml``; raise ``SetNotFoundError`` if there is none.

    A run whose folder is gone (deleted by hand) is not among its runs but among its ``missing`` ones:
    deleting a run's folder removes the run, as the set's README promises. A change of the set that a
    killed process committed but did not finish (``extend``, ``remove``) is finished first.
    """
    from expset.fs.set_change import finish_change

    finish_change(set_dir)
    recorded = load_recorded_set(set_dir)
    try:
        present = set(os.listdir(set_dir))
    except OSError:
        return recorded
    missing = [run.name for run in recorded.all_runs if run.name not in present]
    return without_runs(recorded, missing, removed=False) if missing else recorded


def load_recorded_set(set_dir: Path) -> ExperimentSet:
    """The set as ``expset.yaml`` records it, whether or not its run folders are there."""
    from expset.render.yaml_read import load_yaml

    record_path = set_dir / PLAN_FILE
    try:
        text = record_path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise not_a_set(set_dir) from None
    return experiment_set_from_record(load_yaml(text, str(record_path)))


def not_a_set(path: Path) -> SetNotFoundError:
    """Why ``path`` is not a set, said as plainly as the case allows: no such folder, a plan file, a run
    folder of a set, or a folder without a record."""
    import shlex

    made = "give the folder `expset create` made (named <description>_<date>)"
    if not os.path.lexists(path):
        return SetNotFoundError(f"{path}: no such folder", hint=made)
    if path.is_file():
        if _looks_like_plan(path):
            return SetNotFoundError(
                f"{path} is a plan file, not a set",
                hint=f"create the set it plans with: expset create {shlex.quote(str(path))}",
            )
        return SetNotFoundError(f"{path} is a file, not a set folder", hint=made)
    parent = path.absolute().parent
    if (parent / PLAN_FILE).is_file():
        return SetNotFoundError(
            f"{path} is a run folder, not a set", hint=f"give its set's folder: {shlex.quote(str(path.parent))}"
        )
    return SetNotFoundError(f"{path} is not an experiment set (no {PLAN_FILE})", hint=made)


def _looks_like_plan(path: Path) -> bool:
    """Whether ``path`` is a YAML mapping with a plan's fields: a plan file given where a set was wanted."""
    from expset.errors import ExpsetError
    from expset.render.yaml_read import load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ExpsetError):
        return False
    return isinstance(data, dict) and bool({"purpose", "vary", "fixed"} & set(data))


def choose_runs(experiment_set: ExperimentSet, names: list[str] | None) -> list[Run]:
    """The runs called ``names`` (``--runs``), in the order given; every run, controls included, when
    ``names`` is None."""
    if not names:
        return list(experiment_set.all_runs)
    by_name = {run.name: run for run in experiment_set.all_runs}
    unknown = [name for name in names if name not in by_name]
    gone = {run.name for run in experiment_set.missing} | set(experiment_set.removed)
    if unknown and set(unknown) <= gone:
        recorded = [name for name in unknown if name in experiment_set.removed]
        raise UsageError(
            f"--runs: {', '.join(unknown)} {'was' if len(unknown) == 1 else 'were'} removed from set "
            f"{experiment_set.set_name}",
            hint="removed with `expset remove`, a run stays removed: make a new set to run it again"
            if recorded
            else "a run whose folder is gone counts as removed; put its folder back (`expset restore` of a run "
            "archive) to have it again",
        )
    if unknown:
        examples = ", ".join(run.name for run in experiment_set.runs[:3])
        raise UsageError(f"--runs: {', '.join(unknown)} not in set {experiment_set.set_name}", hint=f"runs: {examples}")
    return [by_name[name] for name in names]


def read_setup(path: Path) -> RunSetup:
    """A run's ``setup_finetune.yaml``, perhaps edited by hand.

    Where the run lives follows from its folder: a ``run_dir`` or ``set`` that an earlier version wrote
    into the file is ignored, so a copied set never points at the old one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SetupError(
            f"{path}: not UTF-8 text (byte {error.start})", hint="save it as UTF-8, or delete it to start over"
        ) from None
    return parse_setup(text, path)


def parse_setup(text: str, path: Path) -> RunSetup:
    """The text of a run's ``setup_finetune.yaml`` (at ``path``) as its setup; see ``read_setup``."""
    from expset.render.yaml_read import load_yaml

    data = load_yaml(text, str(path))
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if key not in LOCATION_KEYS}
    return validate_setup(data, f"{path}")

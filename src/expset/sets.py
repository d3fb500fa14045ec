"""A set on disk, read back: its record, its runs, a run's setup. Every command after ``create`` starts here."""

from __future__ import annotations

from pathlib import Path

from expset.core.layout import PLAN_FILE
from expset.core.naming import ExperimentSet, Run
from expset.core.record import experiment_set_from_record
from expset.core.run_setup import LOCATION_KEYS, RunSetup, validate_setup
from expset.errors import SetNotFoundError, SetupError, UsageError


def load_set(set_dir: Path) -> ExperimentSet:
    """The set recorded in ``set_dir/expset.yaml``; raise ``SetNotFoundError`` if there is none."""
    from expset.render.yaml_read import load_yaml

    record_path = set_dir / PLAN_FILE
    try:
        text = record_path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise SetNotFoundError(
            f"{set_dir} is not an experiment set (no {PLAN_FILE})", hint="give the folder `expset create` made"
        ) from None
    return experiment_set_from_record(load_yaml(text, str(record_path)))


def choose_runs(experiment_set: ExperimentSet, names: list[str] | None) -> list[Run]:
    """The runs called ``names`` (``--runs``), in the order given; every run, controls included, when
    ``names`` is None."""
    if not names:
        return list(experiment_set.all_runs)
    by_name = {run.name: run for run in experiment_set.all_runs}
    missing = [name for name in names if name not in by_name]
    if missing:
        examples = ", ".join(run.name for run in experiment_set.runs[:3])
        raise UsageError(f"--runs: {', '.join(missing)} not in set {experiment_set.set_name}", hint=f"runs: {examples}")
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

"""What an experiment set looks like on disk, as plain data: folders and files, relative to the set.

``plan_layout`` never touches the disk. The preview prints this layout and the writer applies it,
so what is shown before approval is by construction what gets written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from expset.core.naming import ExperimentSet

PLAN_FILE = "expset.yaml"
README_FILE = "README.md"
RUNS_PLAN_FILE = "runs_plan.md"
RUNS_TABLE_FILE = "runs.csv"
RUN_FILE = "run.yaml"
EVALUATIONS_DIR = "evaluations"


class FileKind(str, Enum):
    """Which renderer produces a file."""

    README = "readme"
    RUNS_PLAN = "runs_plan"
    PLAN = "plan"
    RUNS_TABLE = "runs_table"
    RUN = "run"


FILE_PURPOSES = {
    FileKind.README: "purpose, what varies, the naming convention, the runs, next steps",
    FileKind.RUNS_PLAN: "every run and the full expected structure of a run",
    FileKind.PLAN: "the approved plan, fully resolved, for provenance",
    FileKind.RUNS_TABLE: "one row per run with every parameter, for joining with results",
    FileKind.RUN: "this run's parameters, so the run folder explains itself",
}


SET_FILES = (
    (README_FILE, FileKind.README),
    (RUNS_PLAN_FILE, FileKind.RUNS_PLAN),
    (PLAN_FILE, FileKind.PLAN),
    (RUNS_TABLE_FILE, FileKind.RUNS_TABLE),
)
"""The files at the top of every set, in the order they are listed and written."""


@dataclass(frozen=True)
class PlannedFile:
    """A file to write: where, which renderer, and for per-run files the index of its run."""

    path: str
    kind: FileKind
    run_index: int | None = None


@dataclass(frozen=True)
class SetLayout:
    """Every folder (parents before children) and file of a set, relative to the set folder."""

    set_name: str
    directories: tuple[str, ...]
    files: tuple[PlannedFile, ...]


def run_directories(run_name: str, tasks: list[str]) -> list[str]:
    """A run folder and its evaluation folders, parents first."""
    evaluations = f"{run_name}/{EVALUATIONS_DIR}"
    return [run_name, evaluations, *(f"{evaluations}/{task}" for task in tasks)]


def plan_layout(experiment_set: ExperimentSet) -> SetLayout:
    """The folders and files of ``experiment_set``."""
    tasks = experiment_set.plan.task_names
    directories: list[str] = []
    files = [PlannedFile(path, kind) for path, kind in SET_FILES]
    for index, run in enumerate(experiment_set.runs):
        directories.extend(run_directories(run.name, tasks))
        files.append(PlannedFile(f"{run.name}/{RUN_FILE}", FileKind.RUN, index))
    return SetLayout(set_name=experiment_set.set_name, directories=tuple(directories), files=tuple(files))

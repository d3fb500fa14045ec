"""The layout: what will be on disk, as data, before anything is written."""

import copy

from expset.core.layout import FileKind, plan_layout
from expset.core.naming import design_set
from expset.core.plan import parse_plan

from helpers import SEED_PLAN, TODAY


def layout_of(**changes):
    data = copy.deepcopy(SEED_PLAN)
    data.update(changes)
    return plan_layout(design_set(parse_plan(data, today=TODAY, default_author="ada")))


def test_every_run_gets_its_folder_and_one_evaluation_folder_per_task():
    directories = layout_of().directories
    assert directories[:4] == (
        "1B_rank8",
        "1B_rank8/evaluations",
        "1B_rank8/evaluations/capitalization",
        "1B_rank8/evaluations/arithmetic",
    )
    assert len(directories) == (4 + 2) * 4  # four fine-tunes and the two base models' controls
    assert directories[-4:] == (
        "base_3B",
        "base_3B/evaluations",
        "base_3B/evaluations/capitalization",
        "base_3B/evaluations/arithmetic",
    )


def test_parents_always_come_before_children():
    seen = set()
    for directory in layout_of().directories:
        parent = directory.rsplit("/", 1)[0] if "/" in directory else None
        assert parent is None or parent in seen
        seen.add(directory)


def test_set_files_then_one_run_file_per_run():
    files = layout_of().files
    assert [f.path for f in files[:4]] == ["README.md", "runs_plan.md", "expset.yaml", "runs.csv"]
    assert [(f.path, f.kind, f.run_index) for f in files[4:6]] == [
        ("1B_rank8/run.yaml", FileKind.RUN, 0),
        ("1B_rank16/run.yaml", FileKind.RUN, 1),
    ]


def test_a_set_without_tasks_still_has_an_evaluations_folder_per_run():
    assert layout_of(evaluations=[]).directories[:2] == ("1B_rank8", "1B_rank8/evaluations")

"""Stage one, ``expset create``: write an experiment set on disk, atomically.

Never overwrites: an existing set with the same resolved plan is "up to date"; anything else at
the target path is refused with what differs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from expset import __version__
from expset.core.layout import plan_layout
from expset.core.naming import ExperimentSet
from expset.errors import SetNotFoundError, TargetExistsError
from expset.sets import load_set


class Outcome(str, Enum):
    """What ``create_set`` did: created the set, or found the same set already there."""

    CREATED = "created"
    UP_TO_DATE = "up to date"


@dataclass(frozen=True)
class CreateResult:
    """The outcome of ``create_set`` and the set's folder."""

    outcome: Outcome
    path: Path


def create_set(experiment_set: ExperimentSet, root: Path) -> CreateResult:
    """Write ``experiment_set`` under ``root`` atomically, unless the same set is already there."""
    from expset.fs.writer import write_tree
    from expset.render.set_files import render_set_files

    target = root / experiment_set.set_name
    if target.exists():
        return CreateResult(compare_existing(experiment_set, target), target)
    layout = plan_layout(experiment_set)
    try:
        write_tree(target, layout.directories, render_set_files(experiment_set, layout, __version__))
    except TargetExistsError:
        # Another process won the race; it may have created exactly this set.
        return CreateResult(compare_existing(experiment_set, target, raced=True), target)
    return CreateResult(Outcome.CREATED, target)


def compare_existing(experiment_set: ExperimentSet, target: Path, *, raced: bool = False) -> Outcome:
    """``UP_TO_DATE`` if ``target`` holds this very set; else raise ``TargetExistsError`` saying what differs."""
    why = " (another process created it while this one was writing)" if raced else ""
    try:
        existing = load_set(target)
    except SetNotFoundError:
        raise TargetExistsError(
            f"{target} already exists and is not an expset set{why}; nothing was written",
            hint="choose another set name (rename at the prompt, or set name: in the plan) or another --root",
        ) from None
    if existing.plan == experiment_set.plan and existing.set_name == experiment_set.set_name:
        return Outcome.UP_TO_DATE
    made_before_controls = existing.plan == experiment_set.plan.model_copy(update={"controls": False})
    if made_before_controls:
        hint = "this set was made before control runs existed: add `controls: false` to the plan to keep it as it is"
    elif (added := _extension_of(existing, experiment_set)) is not None:
        hint = f"this plan adds {added} to that set: `expset extend {target} PLAN` adds them, keeping every run it has"
    else:
        hint = "give the new set another name (name: in the plan)"
    raise TargetExistsError(
        f"{target} already holds a set with a different plan{why}; nothing was written:\n"
        + describe_difference(existing, experiment_set),
        hint=hint,
    )


def _extension_of(existing: ExperimentSet, proposed: ExperimentSet) -> str | None:
    """What ``proposed`` adds to ``existing`` when it only adds ("2 runs and 1 evaluation"), else None."""
    from expset.core.set_changes import extend_set
    from expset.errors import ExpsetError

    try:
        extension = extend_set(existing, proposed.plan, today=proposed.plan.date, author="")  # type: ignore[arg-type]
    except ExpsetError:
        return None
    if not extension.adds_anything:
        return None
    parts = [f"{len(extension.added)} run{'s' if len(extension.added) != 1 else ''}"] if extension.added else []
    if extension.new_tasks:
        parts.append(f"{len(extension.new_tasks)} evaluation{'s' if len(extension.new_tasks) != 1 else ''}")
    return " and ".join(parts)


def describe_difference(old: ExperimentSet, new: ExperimentSet) -> str:
    """A unified diff of two sets' resolved plans."""
    from expset.render.yaml_text import to_yaml

    before = to_yaml(old.plan.to_data()).splitlines()
    after = to_yaml(new.plan.to_data()).splitlines()
    diff = difflib.unified_diff(before, after, "existing set", "this plan", lineterm="", n=1)
    return "\n".join(diff)

"""What a hand-edited ``setup_finetune.yaml`` changes from the setup expset wrote there, and whether it may.

A varied parameter is the run's identity — its name, ``run.yaml``, ``runs.csv``, ``expset which`` and the
evaluations' metadata all say its planned value — so an edit of it is refused: the plan changes instead.
Any other edit is a deviation of that one run, recorded beside it and with its evaluations, so that no
comparison is silently mislabelled. Pure: setups in, paths and values out.
"""

from __future__ import annotations

from typing import Any

from expset.core.overrides import is_override
from expset.core.run_setup import RunSetup

RESOURCE_KEYS = ("gpus", "mem", "time")
IDENTITY_PATHS = {
    "lr": ("training.lr",),
    "learning_rate": ("training.lr",),
    "model": ("model.name",),
    "dataset": ("data.path",),
    "prompt.system": ("prompt.system",),
    "prompt.template": ("prompt.template",),
}
"""The setup paths a varied parameter sets, where they are not ``training.<key>`` or ``settings.<key>``."""


def flatten(setup: RunSetup) -> dict[str, Any]:
    """The setup as ``section.field`` → value; settings keep their own dotted keys, evaluations go by name."""
    data = setup.model_dump(mode="json")
    flat: dict[str, Any] = {}
    for section, value in data.items():
        if section == "evaluations":
            for evaluation in value:
                for field, item in evaluation.items():
                    flat[f"evaluations.{evaluation['name']}.{field}"] = item
        elif isinstance(value, dict):
            for field, item in value.items():
                flat[f"{section}.{field}"] = item
        else:
            flat[section] = value
    return flat


_ABSENT = object()


def deviations(written: RunSetup, edited: RunSetup) -> dict[str, Any]:
    """Each path whose value the edited setup changes from the one expset ``written`` (or adds, or takes
    away: None), with its new value."""
    before, after = flatten(written), flatten(edited)
    return {
        path: after.get(path)
        for path in sorted(before.keys() | after.keys())
        if before.get(path, _ABSENT) != after.get(path, _ABSENT)
    }


def identity_paths(key: str) -> tuple[str, ...]:
    """The setup paths that say the value of the varied parameter ``key``."""
    if key in IDENTITY_PATHS:
        paths = IDENTITY_PATHS[key]
    elif is_override(key):
        paths = (f"settings.{key}",)
    elif key in RESOURCE_KEYS:
        paths = (f"resources.{key}",)
    else:
        paths = (f"training.{key}",)
    return (*paths, f"parameters.{key}")


def identity_edits(varied: list[str], changed: dict[str, Any]) -> list[tuple[str, str]]:
    """(varied parameter, setup path) for each change of a run's identity."""
    return [(key, path) for key in varied for path in identity_paths(key) if path in changed]

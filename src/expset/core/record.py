"""The record of a created set (``expset.yaml``) as plain data, and the set read back from it.

The stored convention, not today's naming rules, decides what an existing set's runs are called:
a set made by an older expset keeps decoding correctly after the rules change. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from expset.core.history import history_from_data
from expset.core.naming import (
    Convention,
    ExperimentSet,
    ParameterNaming,
    derive_controls,
    derive_evaluation_only,
    derive_runs,
)
from expset.core.plan import Plan
from expset.errors import RecordError

RECORD_FORMAT = 1
CHANGED_FORMAT = 2
"""The format of a record that an expset reading only format 1 would misread, so it refuses it instead: a
convention that leaves a value out of run names (``omitted``, it would name runs wrongly), or runs removed
from the set (``removed``, it would bring them back)."""
READABLE_FORMATS = (RECORD_FORMAT, CHANGED_FORMAT)


def set_record(experiment_set: ExperimentSet, version: str) -> dict[str, Any]:
    """What ``expset.yaml`` holds: format, versions, set name, the resolved plan and the convention.

    The convention's ``texts`` run parallel to the values in ``plan.vary``.
    """
    convention = experiment_set.convention
    changed = any(p.omitted is not None for p in convention.parameters) or bool(experiment_set.removed)
    record: dict[str, Any] = {
        "format": CHANGED_FORMAT if changed else RECORD_FORMAT,
        "expset_version": version,
        "set_name": experiment_set.set_name,
        "run_count": len(experiment_set.runs),
        "controls": [run.name for run in experiment_set.controls],
        "evaluation_only": [run.name for run in experiment_set.evaluation_only],
        "plan": experiment_set.plan.to_data(),
        "convention": {
            "template": convention.template,
            "custom_template": convention.custom_template,
            "parameters": [_parameter_record(p) for p in convention.parameters],
        },
    }
    if experiment_set.removed:
        record["removed"] = list(experiment_set.removed)
    if experiment_set.history:
        record["history"] = [entry.to_data() for entry in experiment_set.history]
    return record


def _parameter_record(naming: ParameterNaming) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": naming.key,
        "rule": naming.rule,
        "prefix": naming.prefix,
        "texts": list(naming.texts),
    }
    if naming.omitted is not None:
        item["omitted"] = naming.omitted
    return item


def experiment_set_from_record(record: Any) -> ExperimentSet:
    """The set a record describes; raise ``RecordError`` if the record is not one expset wrote."""
    if not isinstance(record, dict) or record.get("format") not in READABLE_FORMATS:
        raise RecordError("expset.yaml: not a set record this expset can read (missing or unknown 'format')")
    try:
        plan = Plan.model_validate(record["plan"])
        if plan.controls is None:  # made before control runs existed: it has none
            plan = plan.model_copy(update={"controls": False})
        stored = record["convention"]
        parameters = tuple(
            ParameterNaming(
                key=item["key"],
                prefix=item["prefix"],
                values=tuple(plan.vary[item["key"]]),
                texts=tuple(item["texts"]),
                rule=item["rule"],
                omitted=_omitted(item, len(plan.vary[item["key"]])),
            )
            for item in stored["parameters"]
        )
        convention = Convention(
            template=stored["template"], parameters=parameters, custom_template=stored["custom_template"]
        )
        set_name = record["set_name"]
        removed = tuple(str(name) for name in record.get("removed") or ())
    except (KeyError, TypeError, ValidationError) as error:
        raise RecordError(f"expset.yaml: missing or malformed entry ({error})") from None
    runs = derive_runs(convention)
    controls = derive_controls(plan, convention, runs)
    whole = ExperimentSet(
        plan=plan,
        set_name=set_name,
        convention=convention,
        runs=runs,
        controls=controls,
        evaluation_only=derive_evaluation_only(plan, runs + controls),
        history=history_from_data(record.get("history")),
    )
    return without_runs(whole, removed, removed=True) if removed else whole


def without_runs(experiment_set: ExperimentSet, names: Collection[str], *, removed: bool) -> ExperimentSet:
    """``experiment_set`` without the runs called ``names``: recorded as removed (``removed``), or else as
    missing, their folders gone."""
    names = list(dict.fromkeys(names))
    wanted = set(names)
    gone = [run for run in experiment_set.all_runs if run.name in wanted]
    kept = {
        "runs": tuple(run for run in experiment_set.runs if run.name not in wanted),
        "controls": tuple(run for run in experiment_set.controls if run.name not in wanted),
        "evaluation_only": tuple(run for run in experiment_set.evaluation_only if run.name not in wanted),
    }
    if removed:
        recorded = (*experiment_set.removed, *(name for name in names if name not in experiment_set.removed))
        return replace(experiment_set, **kept, removed=recorded)
    return replace(experiment_set, **kept, missing=(*experiment_set.missing, *gone))


def _omitted(item: dict[str, Any], count: int) -> int | None:
    omitted = item.get("omitted")
    if omitted is None:
        return None
    if isinstance(omitted, bool) or not isinstance(omitted, int) or not 0 <= omitted < count:
        raise RecordError(f"expset.yaml: convention parameter {item['key']}: omitted is not the index of a value")
    return omitted

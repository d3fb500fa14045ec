"""The record of a created set (``expset.yaml``) as plain data, and the set read back from it.

The stored convention, not today's naming rules, decides what an existing set's runs are called:
a set made by an older expset keeps decoding correctly after the rules change. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

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


def set_record(experiment_set: ExperimentSet, version: str) -> dict[str, Any]:
    """What ``expset.yaml`` holds: format, versions, set name, the resolved plan and the convention.

    The convention's ``texts`` run parallel to the values in ``plan.vary``.
    """
    convention = experiment_set.convention
    return {
        "format": RECORD_FORMAT,
        "expset_version": version,
        "set_name": experiment_set.set_name,
        "run_count": len(experiment_set.runs),
        "controls": [run.name for run in experiment_set.controls],
        "evaluation_only": [run.name for run in experiment_set.evaluation_only],
        "plan": experiment_set.plan.to_data(),
        "convention": {
            "template": convention.template,
            "custom_template": convention.custom_template,
            "parameters": [
                {"key": p.key, "rule": p.rule, "prefix": p.prefix, "texts": list(p.texts)}
                for p in convention.parameters
            ],
        },
    }


def experiment_set_from_record(record: Any) -> ExperimentSet:
    """The set a record describes; raise ``RecordError`` if the record is not one expset wrote."""
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
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
            )
            for item in stored["parameters"]
        )
        convention = Convention(
            template=stored["template"], parameters=parameters, custom_template=stored["custom_template"]
        )
        set_name = record["set_name"]
    except (KeyError, TypeError, ValidationError) as error:
        raise RecordError(f"expset.yaml: missing or malformed entry ({error})") from None
    runs = derive_runs(convention)
    controls = derive_controls(plan, convention, runs)
    return ExperimentSet(
        plan=plan,
        set_name=set_name,
        convention=convention,
        runs=runs,
        controls=controls,
        evaluation_only=derive_evaluation_only(plan, runs + controls),
    )

"""How a set changes after ``create``: runs added by a plan that extends it, runs removed. Pure: no I/O.

An extension only adds. Every run the set has keeps its name, its folder and what it ran with: a plan
that would rename one (a new model that breaks the "sizes only" token), change a fixed setting, or drop
a value is refused, with what to write instead. A parameter that newly varies takes, for the existing
runs, the value the set fixed it at, and that value is left out of run names, so ``1B_rank16`` stays
``1B_rank16`` beside the new ``1B_rank16_lr3e-4``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any

from expset.core.history import EXTENDED, REMOVED, HistoryEntry
from expset.core.naming import (
    Convention,
    ExperimentSet,
    ParameterNaming,
    Run,
    check_template,
    derive_controls,
    derive_evaluation_only,
    derive_runs,
    parameter_naming,
)
from expset.core.plan import Plan, check_plan, model_of
from expset.core.record import without_runs
from expset.core.values import Scalar, format_value, value_identity
from expset.errors import NamingError, PlanError, UsageError

_MAY_DIFFER = frozenset(
    {"name", "date", "author", "root", "purpose", "notes", "single_run_reason", "naming", "replicates"}
)
"""Plan fields an extending plan may change without touching an existing run (or whose change is checked
where it matters: the values in ``vary``, the names in ``naming``)."""
_ADDED_TO = ("vary", "fixed", "evaluations", "evaluate_only", "models", "labels", "controls")
"""Plan fields an extension adds to, each checked on its own."""


@dataclass(frozen=True)
class Extension:
    """A set extended by a plan: the whole new set, the run folders it adds, and the evaluations every
    existing run gains (empty folders, scaffolded and submitted later as today)."""

    extended: ExperimentSet
    added: tuple[Run, ...]
    new_tasks: tuple[str, ...]
    entry: HistoryEntry

    @property
    def adds_anything(self) -> bool:
        """Whether the plan asks for anything the set does not have."""
        return bool(self.added or self.new_tasks)


def extend_set(existing: ExperimentSet, plan: Plan, *, today: dt.date, author: str) -> Extension:
    """``existing`` (as its record has it) with what ``plan`` adds; raise ``PlanError`` or ``NamingError``,
    naming each problem, when the plan would change a run the set already has."""
    old = existing.plan
    problems = [
        f"{field}: differs from the set's — extend only adds runs, and this changes the existing ones "
        "(make a new set for it)"
        for field in Plan.model_fields
        if field not in _MAY_DIFFER and field not in _ADDED_TO and getattr(plan, field) != getattr(old, field)
    ]
    vary, fixed, new_keys = _merged_parameters(old, plan, problems)
    evaluations = _merged_list("evaluations", old.evaluations, plan.evaluations, lambda e: e.name, problems)
    evaluate_only = _merged_mapping(
        "evaluate_only", _with_model(old.evaluate_only, old), _with_model(plan.evaluate_only, old), problems
    )
    models = _merged_mapping("models", old.models, plan.models, problems)
    labels = _merged_mapping("labels", old.labels, plan.labels, problems)
    if old.controls and not plan.controls:
        problems.append("controls: the set has control runs — extend only adds runs (`expset remove` takes them out)")
    if problems:
        raise PlanError(problems)
    merged = old.model_copy(
        update={
            "vary": vary,
            "fixed": fixed,
            "evaluations": evaluations,
            "evaluate_only": evaluate_only,
            "models": models,
            "labels": labels,
            "controls": old.controls or plan.controls,
            "naming": plan.naming,
            "purpose": plan.purpose,
            "notes": plan.notes,
            "replicates": plan.replicates if plan.replicates is not None else old.replicates,
        }
    )
    problems = check_plan(merged)
    if problems:
        raise PlanError(problems)
    convention = _extended_convention(existing.convention, merged, new_keys)
    runs = derive_runs(convention)
    controls = derive_controls(merged, convention, runs)
    whole = ExperimentSet(
        plan=merged,
        set_name=existing.set_name,
        convention=convention,
        runs=runs,
        controls=controls,
        evaluation_only=derive_evaluation_only(merged, runs + controls),
        history=existing.history,
    )
    _refuse_renames(existing, whole, {key: vary[key][0] for key in new_keys}, _default_template(existing, convention))
    extended = without_runs(whole, existing.removed, removed=True) if existing.removed else whole
    known = {run.name for run in existing.all_runs} | {run.name for run in existing.missing} | set(existing.removed)
    added = tuple(run for run in extended.all_runs if run.name not in known)
    new_tasks = tuple(task for task in merged.task_names if task not in old.task_names)
    entry = HistoryEntry(
        date=today.isoformat(),
        author=author,
        change=EXTENDED,
        summary=_describe_extension(existing, merged, new_keys, added, new_tasks),
        runs=tuple(run.name for run in added),
    )
    if added or new_tasks:
        extended = replace(extended, history=(*existing.history, entry))
    return Extension(extended=extended, added=added, new_tasks=new_tasks, entry=entry)


def remove_runs(recorded: ExperimentSet, names: list[str], *, today: dt.date, author: str) -> ExperimentSet:
    """``recorded`` (the set as its record has it, hand-deleted runs included) without the runs ``names``,
    recorded as removed, with a history entry; raise ``UsageError`` for a name the set does not have, and
    when no fine-tune would be left."""
    present = {run.name for run in recorded.all_runs}
    unknown = [name for name in names if name not in present]
    if unknown:
        if all(name in recorded.removed for name in unknown):
            raise UsageError(f"{', '.join(unknown)}: already removed from set {recorded.set_name}")
        examples = ", ".join(run.name for run in recorded.runs[:3])
        raise UsageError(f"{', '.join(unknown)}: not a run of set {recorded.set_name}", hint=f"runs: {examples}")
    names = list(dict.fromkeys(names))
    named = set(names)
    if not [run for run in recorded.runs if run.name not in named]:
        raise UsageError(
            "remove: no fine-tune of the set would be left",
            hint="keep at least one run; to remove the whole set, delete its folder yourself",
        )
    entry = HistoryEntry(
        date=today.isoformat(),
        author=author,
        change=REMOVED,
        summary=f"removed {len(names)} run{'s' if len(names) != 1 else ''}",
        runs=tuple(names),
    )
    trimmed = without_runs(recorded, names, removed=True)
    return replace(trimmed, history=(*recorded.history, entry))


def _merged_parameters(
    old: Plan, plan: Plan, problems: list[str]
) -> tuple[dict[str, list[Any]], dict[str, Any], list[str]]:
    """The extended set's ``vary`` (the set's values first, in its order, then the new ones), its ``fixed``,
    and the parameters that newly vary (each with the value the set fixed it at first)."""
    vary: dict[str, list[Any]] = {}
    for key, values in old.vary.items():
        given = plan.vary.get(key)
        if given is None:
            where = "fixed" if key in plan.fixed else "gone"
            problems.append(
                f"vary.{key}: varies in the set and is {where} in this plan — extend only adds runs; "
                f"list every value the set has ({', '.join(map(format_value, values))}) and the new ones"
            )
            continue
        offered = _identities(given)
        dropped = [value for value in values if value_identity(value) not in offered]
        if dropped:
            problems.append(
                f"vary.{key}: {', '.join(map(format_value, dropped))} of the set's values "
                f"{'is' if len(dropped) == 1 else 'are'} missing — extend only adds runs (`expset remove` "
                "takes runs out)"
            )
        had = _identities(values)
        vary[key] = [*values, *(value for value in given if value_identity(value) not in had)]
    new_keys = [key for key in plan.vary if key not in old.vary]
    for key in new_keys:
        if key not in old.fixed:
            problems.append(
                f"vary.{key}: the set's runs do not record a {key} (it is not in the set's fixed:), so which of "
                "these values they ran with is unknown — vary it in a new set"
            )
            continue
        default = old.fixed[key]
        vary[key] = [default, *(value for value in plan.vary[key] if value_identity(value) != value_identity(default))]
    fixed = {key: value for key, value in old.fixed.items() if key not in new_keys}
    for key in {*fixed, *plan.fixed}:
        if key in old.vary:
            continue
        if key not in plan.fixed:
            problems.append(
                f"fixed.{key}: the set fixes it at {format_value(fixed[key])} and this plan leaves it out — "
                "keep it: extend only adds runs"
            )
        elif key not in fixed:
            problems.append(
                f"fixed.{key}: not set for the set's runs — extend only adds runs, and this changes the existing "
                "ones (make a new set for it)"
            )
        elif plan.fixed[key] != fixed[key]:
            problems.append(
                f"fixed.{key}: {format_value(plan.fixed[key])} here, {format_value(fixed[key])} in the set — "
                "extend only adds runs; keep the set's value"
            )
    return vary, fixed, new_keys


def _merged_list(field: str, old: list[Any], new: list[Any], name: Any, problems: list[str]) -> list[Any]:
    by_name = {name(item): item for item in new}
    for item in old:
        if name(item) not in by_name:
            problems.append(f"{field}: {name(item)} is missing — extend only adds; keep the set's {field}")
        elif by_name[name(item)] != item:
            problems.append(f"{field}: {name(item)} differs from the set's — extend only adds; keep it as it was")
    kept = {name(item) for item in old}
    return [*old, *(item for item in new if name(item) not in kept)]


def _merged_mapping(field: str, old: dict[str, Any], new: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    for key, value in old.items():
        if key not in new:
            problems.append(f"{field}.{key}: is missing — extend only adds; keep the set's {field}")
        elif new[key] != value:
            problems.append(f"{field}.{key}: differs from the set's — extend only adds; keep it as it was")
    return {**old, **{key: value for key, value in new.items() if key not in old}}


def _extended_convention(existing: Convention, plan: Plan, new_keys: list[str]) -> Convention:
    """The set's convention with the new values' texts and the new parameters; the existing values keep
    their texts, or the names they made are refused by ``_refuse_renames``."""
    by_key = {p.key: p for p in existing.parameters}
    parameters: list[ParameterNaming] = []
    for key, values in plan.vary.items():
        fresh = parameter_naming(plan, key, values)
        before = by_key.get(key)
        if before is None:
            parameters.append(replace(fresh, omitted=0))
        else:
            parameters.append(replace(fresh, prefix=before.prefix, omitted=before.omitted))
    if plan.naming.template is not None:
        check_template(plan.naming.template, list(plan.vary), plan)
        return Convention(template=plan.naming.template, parameters=tuple(parameters), custom_template=True)
    if new_keys and existing.custom_template:
        wanted = existing.template + "".join(f"_{key}{{{key}}}" for key in new_keys)
        raise NamingError(
            f"naming.template: the set names runs {existing.template!r}, which leaves out {', '.join(new_keys)}",
            hint=f'give the template with it, e.g. naming: {{template: "{wanted}"}}',
        )
    template = existing.template
    if new_keys:
        added = [p for p in parameters if p.key in new_keys]
        template += "".join(f"_{p.prefix}{{{p.key}}}" for p in added)
    return Convention(template=template, parameters=tuple(parameters), custom_template=existing.custom_template)


def _with_model(checkpoints: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Checkpoints to evaluate, each with its model written out: one the set's single model was assumed for
    must say it once the model varies."""
    model = model_of(plan)
    return {
        name: checkpoint.model_copy(update={"model": model}) if checkpoint.model is None and model else checkpoint
        for name, checkpoint in checkpoints.items()
    }


def _default_template(existing: ExperimentSet, extended: Convention) -> str:
    """The set's template with each newly varied parameter after it, as an extension names runs by default."""
    before = {p.key for p in existing.convention.parameters}
    added = [p for p in extended.parameters if p.key not in before]
    return existing.convention.template + "".join(f"_{p.prefix}{{{p.key}}}" for p in added)


def _refuse_renames(
    existing: ExperimentSet, extended: ExperimentSet, defaults: dict[str, Scalar], default_template: str
) -> None:
    """Raise ``NamingError`` listing each existing run the extended convention would name differently."""

    def identity(run: Run) -> tuple[str, tuple[tuple[str, tuple[str, object]], ...]]:
        values = {**defaults, **run.varied} if run.kind == "fine-tuned" else run.varied
        return run.kind, tuple(sorted((key, value_identity(value)) for key, value in values.items()))

    new_names = {identity(run): run.name for run in extended.all_runs}
    if extended.evaluation_only:
        new_names.update({("evaluation-only", run.name): run.name for run in extended.evaluation_only})
    renamed = []
    for run in [*existing.all_runs, *existing.missing]:
        key = ("evaluation-only", run.name) if run.kind == "evaluation-only" else identity(run)
        now = new_names.get(key)
        if now != run.name:
            renamed.append(f"{run.name} → {now}")
    if not renamed:
        return
    shown = ", ".join(renamed[:4]) + (f" and {len(renamed) - 4} more" if len(renamed) > 4 else "")
    raise NamingError(
        f"extend: {len(renamed)} existing run{'s' if len(renamed) != 1 else ''} would be renamed ({shown}); "
        "nothing was written",
        hint=_keeping_names(existing.convention, extended.convention, default_template),
    )


def _keeping_names(before: Convention, after: Convention, default_template: str) -> str:
    """What to add to the plan so that the set's runs keep their names: aliases for the values whose text
    changed, else the set's template."""
    by_key = {p.key: p for p in after.parameters}
    aliases: dict[str, dict[str, str]] = {}
    for old in before.parameters:
        new = by_key.get(old.key)
        if new is None:
            continue
        for value, text in zip(old.values, old.texts, strict=True):
            if new.text_of(value) != text:
                aliases.setdefault(old.key, {})[format_value(value)] = text
    if aliases:
        return f"keep their names: add to the plan naming: {{aliases: {json.dumps(aliases)}}}"
    return f'keep the set\'s names with naming: {{template: "{default_template}"}}'


def _describe_extension(
    existing: ExperimentSet, plan: Plan, new_keys: list[str], added: tuple[Run, ...], new_tasks: tuple[str, ...]
) -> str:
    """One line: the values, parameters and evaluations added, and how many runs."""
    parts = []
    for key, values in plan.vary.items():
        if key in new_keys:
            parts.append(f"{key} now varies: {_some(values[1:])} (the existing runs have {format_value(values[0])})")
            continue
        had = _identities(existing.plan.vary.get(key, []))
        new_values = [value for value in values if value_identity(value) not in had]
        if new_values:
            parts.append(f"{key} {_some(new_values)}")
    if new_tasks:
        parts.append(f"evaluation{'s' if len(new_tasks) != 1 else ''} {', '.join(new_tasks)}")
    new_checkpoints = [name for name in plan.evaluate_only if name not in existing.plan.evaluate_only]
    if new_checkpoints:
        parts.append(f"checkpoint{'s' if len(new_checkpoints) != 1 else ''} {', '.join(new_checkpoints)}")
    if plan.controls and not existing.plan.controls:
        parts.append("control runs")
    runs = f"{len(added)} run{'s' if len(added) != 1 else ''}"
    return f"added {'; '.join(parts) or 'nothing'}: {runs}"


def _identities(values: list[Any]) -> set[tuple[str, object]]:
    return {value_identity(value) for value in values}


def _some(values: list[Any]) -> str:
    """The values, or for many the first few and how many there are."""
    if len(values) <= 6:
        return ", ".join(map(format_value, values))
    return f"{', '.join(map(format_value, values[:3]))}, … {format_value(values[-1])} ({len(values)} values)"

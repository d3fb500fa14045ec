"""The experiment plan: one schema for the plan file, the wizard and the command-line flags.

``parse_plan`` takes already-parsed data (a mapping from YAML, flags or answers) plus the facts the
shell supplies (today's date, the default author) and returns a frozen ``Plan``, or raises
``PlanError`` with one ``field.path: problem — fix`` line per problem. Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import sys
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from expset.core.models import MODELS, ModelSpec, find_model
from expset.core.overrides import REMOVE, argument_problem, is_override, unknown_key_problem
from expset.core.parameters import KNOWN_KEYS, NUMERIC_KEYS, parameter, value_problem
from expset.core.sections import (
    CheckpointEntry,
    ConstantValue,
    DataFormat,
    Evaluation,
    EvaluationEntry,
    IsoDate,
    Naming,
    ScalarValue,
    Validation,
)
from expset.core.site_settings import Site
from expset.core.values import Scalar, is_safe_name, parse_number, value_identity
from expset.errors import PlanError


class Plan(BaseModel):
    """An experiment plan: what a set of fine-tuning runs is for and what varies across it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="expset plan")

    name: str | None = Field(default=None, description="Short description; becomes the set folder's name.")
    purpose: str = Field(description="Why this set of runs exists: the question it answers.")
    author: str | None = Field(default=None, description="Who made the set (default: git user.name, else $USER).")
    date: IsoDate | None = Field(default=None, description="Creation date, YYYY-MM-DD (default: today).")
    root: str | None = Field(default=None, description="Folder the set is created in.")
    vary: dict[str, list[ScalarValue]] = Field(
        default_factory=dict, description="Parameter → values, in naming order; runs are their product."
    )
    fixed: dict[str, ConstantValue] = Field(
        default_factory=dict,
        description="Parameters shared by every run; a torchtune setting may be null, and ~path removes one.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Parameters of your own that the jobs do not read (your scripts do), with what each means: "
        "expset names runs after them and records them, but applies nothing.",
    )
    single_run_reason: str | None = Field(
        default=None, description="Why this set has one run only (needed when nothing varies)."
    )
    evaluations: list[EvaluationEntry] = Field(
        default_factory=list, description="inspect-ai evaluations: a task name, or a definition; one folder each."
    )
    replicates: int | None = Field(
        default=None,
        ge=1,
        description="Runs of every combination that differ only by seed (seed 1 to N, varied last): the report "
        "gives their mean, spread and interval.",
    )
    evaluate_only: dict[str, CheckpointEntry] = Field(
        default_factory=dict,
        description="Checkpoints made elsewhere to evaluate beside the set, each in a run folder of this name: "
        "its folder, or {path, model}.",
    )
    controls: bool | None = Field(
        default=None,
        description="One control run per distinct model: the untuned base model, evaluated like the fine-tunes "
        "so that every score has its baseline (default: on when the set has evaluations and a model).",
    )
    notes: str | None = Field(default=None, description="Other context for whoever opens the set later.")
    naming: Naming = Field(default_factory=Naming)
    models: dict[str, ModelSpec] = Field(
        default_factory=dict, description="Models the built-in table lacks, by the name used in vary/fixed."
    )
    data: DataFormat = Field(default_factory=DataFormat)
    validation: Validation | None = Field(
        default=None, description="A validation loss during training: {fraction | split | file, every_n_steps}."
    )
    site: Site = Field(default_factory=Site, description="Overrides of the user profile for this plan.")

    @property
    def task_names(self) -> list[str]:
        """The evaluation folder names, in plan order."""
        return [evaluation.name for evaluation in self.evaluations]

    def to_data(self) -> dict[str, Any]:
        """The plan as plain data in field order, without unset optional fields: what ``expset.yaml`` stores."""
        data = self.model_dump(mode="python", exclude_none=True, exclude_defaults=True)
        if self.date is not None:
            data["date"] = self.date.isoformat()
        if self.evaluations:
            data["evaluations"] = [
                evaluation.name
                if evaluation == Evaluation(name=evaluation.name)
                else evaluation.model_dump(exclude_defaults=True)
                for evaluation in self.evaluations
            ]
        return {field: data[field] for field in PLAN_FIELDS if field in data}


PLAN_FIELDS = tuple(Plan.model_fields)
LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What a label may be called: it becomes a key in run.yaml and a column of runs.csv."""


def parse_plan(data: Any, *, today: dt.date, default_author: str) -> Plan:
    """Validate plan ``data`` and fill ``author`` and ``date``; raise ``PlanError`` naming each problem."""
    if not isinstance(data, dict):
        raise PlanError(["plan: expected a mapping of fields (purpose:, vary:, …) at the top level"])
    data = dict(data)
    non_finite = _non_finite_numbers(data, "")
    if non_finite:
        raise PlanError(non_finite)
    if data.get("author") in (None, ""):
        data["author"] = default_author
    if data.get("date") is None:
        data["date"] = today
    try:
        plan = Plan.model_validate(data)
    except ValidationError as error:
        raise PlanError([_describe(item) for item in error.errors()]) from None
    plan = _coerce_numbers(plan)
    if plan.controls is None:
        plan = plan.model_copy(update={"controls": bool(plan.evaluations) and has_model(plan)})
    if plan.replicates is not None:
        plan = _with_replicates(plan)
    problems = check_plan(plan)
    if problems:
        raise PlanError(problems)
    return plan


def _non_finite_numbers(value: Any, path: str) -> list[str]:
    """Every ``.inf`` or ``.nan`` anywhere in a plan: no setting takes one, and NaN is not even equal to itself."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path or 'plan'}: {value!r} is not a finite number — write a number such as 1e-4"]
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _non_finite_numbers(item, f"{path}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [line for index, item in enumerate(value) for line in _non_finite_numbers(item, f"{path}[{index}]")]
    return []


def _coerce_numbers(plan: Plan) -> Plan:
    """Read well-known numeric parameters written as text (``"1e-4"``) as numbers."""
    problems: list[str] = []

    def number(path: str, key: str, value: Any) -> Any:
        known = parameter(key)
        if known is None or key not in NUMERIC_KEYS or isinstance(value, list) or value is None:
            return value
        number = parse_number(value) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            problems.append(f"{path}: {value!r} is not a number — write e.g. {known.example}")
            return value
        if abs(number) > sys.float_info.max or not math.isfinite(number):  # inf, nan, 10**400
            problem = "is too large" if abs(number) > sys.float_info.max else "is not a finite number"
            problems.append(f"{path}: {_short(value)} {problem} — {key} takes e.g. {known.example}")
            return value
        if known.kind == "integer":
            if not float(number).is_integer():
                problems.append(f"{path}: {value!r} is not a whole number — {key} takes e.g. {known.example}")
                return value
            return int(number)
        return number

    vary = {k: [number(f"vary.{k}[{i}]", k, v) for i, v in enumerate(vs)] for k, vs in plan.vary.items()}
    fixed = {k: number(f"fixed.{k}", k, v) for k, v in plan.fixed.items()}
    if problems:
        raise PlanError(problems)
    return plan.model_copy(update={"vary": vary, "fixed": fixed})


def _short(value: Any) -> str:
    """``repr(value)``, cut to a readable length (a 400-digit number is not worth printing whole)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else f"a {value.bit_length()}-bit number"
    return text if len(text) <= 60 else f"{text[:50]}…"


def check_plan(plan: Plan) -> list[str]:
    """Problems a schema cannot see: meaning across fields. Empty when the plan is sound."""
    problems: list[str] = []
    if not plan.purpose.strip():
        problems.append("purpose: is empty — say in a sentence why this set of runs exists")
    if plan.name is not None:
        problems.extend(_check_description(plan.name))
    if plan.site.root is not None:
        problems.append(
            "site.root: a plan names its folder with root: at the top level (site: holds the profile's cluster "
            "settings) — move it there"
        )
    labels = set(plan.labels)
    for key, values in plan.vary.items():
        problem = unknown_key_problem(key, labels)
        if problem is not None:
            problems.append(f"vary.{key}: {problem}")
        elif key.startswith(REMOVE):
            problems.append(f"vary.{key}: a removal cannot vary — move it to fixed")
        if not values:
            problems.append(f"vary.{key}: has no values — list at least one, or move it to fixed")
        problems.extend(_duplicates(f"vary.{key}", values))
        if key in plan.fixed:
            problems.append(f"fixed.{key}: is also in vary — keep it in one of vary or fixed")
    for key, value in plan.fixed.items():
        problem = unknown_key_problem(key, labels)
        if problem is not None:
            problems.append(f"fixed.{key}: {problem}")
        elif value is None and not is_override(key):
            problems.append(f"fixed.{key}: null is not a value of {key} — remove the line to use its default")
        elif key.startswith(REMOVE) and value is not None:
            problems.append(f"fixed.{key}: a removal takes no value — write {key}: null")
    for key in plan.labels:
        if not LABEL_KEY.fullmatch(key):
            problems.append(f"labels.{key}: not a parameter name — use letters, digits and _ (e.g. prompt_style)")
        elif key in KNOWN_KEYS or is_override(key):
            problems.append(
                f"labels.{key}: is a setting expset applies, not a label — call your own parameter another name"
            )
        elif key not in plan.vary and key not in plan.fixed:
            problems.append(f"labels.{key}: not in vary or fixed — list its values there, or remove the label")
    components = {key.split(".")[0] for key in [*plan.vary, *plan.fixed] if key.endswith("._component_")}
    for section, key in [*(("vary", key) for key in plan.vary), *(("fixed", key) for key in plan.fixed)]:
        argument = argument_problem(key, components) if is_override(key) else None
        if argument is not None:
            problems.append(f"{section}.{key}: {argument}")
    problems.extend(_unknown_models(plan))
    if not any(len(values) >= 2 for values in plan.vary.values()) and not plan.single_run_reason:
        problems.append(
            "vary: nothing varies — give a parameter at least two values, "
            "or set single_run_reason to say why this set has one run"
        )
    for index, task in enumerate(plan.task_names):
        if not is_safe_name(task):
            problems.append(
                f"evaluations[{index}]: {task!r} cannot be a folder name — use letters, digits, '.', '_' "
                "and '-', starting with a letter or digit"
            )
    problems.extend(_duplicates("evaluations", plan.task_names))
    problems.extend(_check_ranges(plan))
    templated = "prompt.template" in plan.vary or "prompt.template" in plan.fixed
    for index, evaluation in enumerate(plan.evaluations):
        if templated and "prompt_template" in evaluation.args:
            problems.append(
                f"evaluations[{index}].args.prompt_template: the task gets the plan's prompt.template — "
                "remove it from args"
            )
        if evaluation.task is not None and "@" not in evaluation.task:
            problems.append(
                f"evaluations[{index}].task: {evaluation.task!r} names no task — write path/to/task.py@task_name"
            )
    if plan.controls and not has_model(plan):
        problems.append(
            "controls: a control is the untuned base model, and this plan names none — "
            "add model to vary or fixed, or set controls: false"
        )
    for name, checkpoint in plan.evaluate_only.items():
        if not is_safe_name(name):
            problems.append(
                f"evaluate_only.{name}: cannot be a folder name — use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit"
            )
        if not plan.evaluations:
            problems.append(f"evaluate_only.{name}: the plan has no evaluations to run on it — add evaluations")
        if checkpoint.model is None and model_of(plan) is None:
            problems.append(
                f"evaluate_only.{name}.model: required here — the set has no single model to assume "
                "(write {path: …, model: …})"
            )
    if plan.validation is not None:
        problems.extend(_check_validation(plan.validation, plan.data))
    if plan.controls and not plan.evaluations:
        problems.append(
            "controls: a control run only evaluates the base model, and this plan has no evaluations — "
            "add evaluations, or set controls: false"
        )
    for key, aliases in plan.naming.aliases.items():
        if key not in plan.vary:
            problems.append(f"naming.aliases.{key}: {key} is not varied — aliases name values of vary parameters")
            continue
        known = {value_identity(_alias_key(key, v)) for v in plan.vary[key]}
        for value, alias in aliases.items():
            if value_identity(_alias_key(key, value)) not in known:
                problems.append(f"naming.aliases.{key}: {value!r} is not one of the values in vary.{key}")
            if not is_safe_name(alias):
                problems.append(
                    f"naming.aliases.{key}.{value}: {alias!r} cannot appear in a folder name — use letters, "
                    "digits, '.', '-' and '_'"
                )
    return problems


def _check_validation(validation: Validation, data: DataFormat) -> list[str]:
    """One source of validation data, and a held-out share that Hugging Face's split syntax can take."""
    given = [name for name in ("fraction", "split", "file") if getattr(validation, name) is not None]
    if len(given) != 1:
        return ["validation: give one of fraction, split or file — where the validation data comes from"]
    if validation.split is not None and data.split == "train":
        return [
            "validation.split: training reads the whole file (data.split: train), this split included — give "
            "data.split the rest (train[:90%] beside train[90%:]), or use validation.fraction"
        ]
    if validation.fraction is not None:
        if abs(validation.fraction * 100 - round(validation.fraction * 100)) > 1e-9:
            return [f"validation.fraction: {validation.fraction} is not a whole percent — write e.g. 0.1 or 0.05"]
        if data.split != "train":
            return ["validation.fraction: data.split already chooses part of the file — give validation.split instead"]
    return []


def _unknown_models(plan: Plan) -> list[str]:
    """Each model that neither the plan's models: nor the built-in table defines, with a near name."""
    entries = [(f"vary.model[{i}]", v) for i, v in enumerate(plan.vary.get("model", []))]
    if "model" in plan.fixed:
        entries.append(("fixed.model", plan.fixed["model"]))
    entries += [(f"evaluate_only.{name}.model", c.model) for name, c in plan.evaluate_only.items() if c.model]
    problems = []
    for path, value in entries:
        if not isinstance(value, str) or find_model(value, plan.models) is not None:
            continue
        close = difflib.get_close_matches(value, [*plan.models, *MODELS], n=1, cutoff=0.6)
        near = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            f"{path}: {value!r} is not a model expset knows — {near}define it under models: "
            "(see `expset schema`), or pick one of `expset models`"
        )
    return problems


def _check_ranges(plan: Plan) -> list[str]:
    problems = []
    entries = [(f"vary.{k}[{i}]", k, v) for k, vs in plan.vary.items() for i, v in enumerate(vs)]
    entries += [(f"fixed.{k}", k, v) for k, v in plan.fixed.items()]
    for path, key, value in entries:
        problem = value_problem(key, value)
        if problem is not None:
            problems.append(f"{path}: {value!r} {problem}")
    return problems


def _alias_key(key: str, value: Scalar) -> Scalar:
    """Alias keys are text in YAML mappings (``8: small`` arrives as 8 or "8"): compare them as values."""
    if isinstance(value, str) and key in NUMERIC_KEYS:
        number = parse_number(value)
        return value if number is None else number
    return value


def _with_replicates(plan: Plan) -> Plan:
    """``replicates: N`` as the seeds 1 to N, varied last; refused where the plan already sets a seed."""
    seeds: list[Scalar] = list(range(1, plan.replicates + 1)) if plan.replicates else []
    if plan.vary.get("seed") == seeds:  # read back from a set's record: already expanded
        return plan
    if "seed" in plan.vary or "seed" in plan.fixed:
        where = "vary" if "seed" in plan.vary else "fixed"
        raise PlanError([f"replicates: {where}.seed already sets the seeds — list them there, or drop replicates"])
    return plan.model_copy(update={"vary": {**plan.vary, "seed": seeds}})


def model_of(plan: Plan) -> Scalar | None:
    """The set's one model: the fixed one, or the only value varied; None when there is none or several."""
    if "model" in plan.fixed and not isinstance(plan.fixed["model"], list):
        return plan.fixed["model"]
    models = plan.vary.get("model", [])
    return models[0] if len(models) == 1 else None


def has_model(plan: Plan) -> bool:
    """Whether the plan names a model (varied or fixed), which a control run evaluates untuned."""
    return "model" in plan.vary or "model" in plan.fixed


def alias_for(plan: Plan, key: str, value: Scalar) -> str | None:
    """The alias the plan gives ``value`` of ``key``, if any."""
    wanted = value_identity(value)
    for written, alias in plan.naming.aliases.get(key, {}).items():
        if value_identity(_alias_key(key, written)) == wanted:
            return alias
    return None


def _check_description(name: str) -> list[str]:
    if "\x00" in name or "/" in name or "\\" in name or ".." in name or name.strip().startswith(("-", ".")):
        return [
            f"name: {name!r} could point outside the root — use a plain description without '/', '..' "
            "or a leading '-' or '.'"
        ]
    return []


def _duplicates(path: str, values: list[Any]) -> list[str]:
    seen: dict[Any, Any] = {}
    problems = []
    for value in values:
        identity = value_identity(value)
        if identity in seen:
            problems.append(f"{path}: {value!r} is listed twice (same as {seen[identity]!r}) — remove one")
        else:
            seen[identity] = value
    return problems


def _describe(error: Any) -> str:
    """One ``field.path: problem — fix`` line for a pydantic error."""
    path = _path(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        field = str(error["loc"][-1])
        allowed = _fields_at(error["loc"])
        close = difflib.get_close_matches(field, allowed, n=1)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        return f"{path}: unknown field — {suggestion}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return f"{path}: required — add {path}: to the plan"
    message = error["msg"].removeprefix("Value error, ")
    if kind in ("dict_type", "list_type", "string_type"):
        wanted = {"dict_type": "a mapping", "list_type": "a list", "string_type": "text"}[kind]
        return f"{path}: expected {wanted}, got {type(error['input']).__name__} — see `expset schema`"
    return f"{path}: {message}"


def _fields_at(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The fields allowed where the last part of ``loc`` stands: those of the section that holds it."""
    model: type[BaseModel] = Plan
    for part in loc[:-1]:
        if isinstance(part, str) and part in model.model_fields:
            inner = _model_in(model.model_fields[part].annotation)
            if inner is None:
                return ()
            model = inner
        # else a mapping key or list index inside that field: still the same section
    return tuple(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The section an annotation holds, itself or inside a list, mapping or union; None for plain values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "plan"

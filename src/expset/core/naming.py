"""The naming convention: from a plan to one safe, unique, reversible name per run.

A convention is a template over the varied parameters (``{model}_rank{lora_rank}``) plus, for each
parameter, the text that stands for each value (``Llama-3.2-1B-Instruct`` → ``1B``). The default
template puts every varied parameter in ``vary`` order, each behind its prefix, joined by ``_``.
Fixed parameters never appear in names. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from expset.core.history import HistoryEntry
from expset.core.limits import check_run_count
from expset.core.models import ModelSpec, find_model, guess_size
from expset.core.parameters import parameter
from expset.core.plan import Plan, alias_for, model_of
from expset.core.values import (
    SAFE_NAME,
    Scalar,
    format_number,
    format_scientific,
    format_value,
    is_safe_name,
    parse_number,
    slugify,
    value_identity,
)
from expset.errors import NamingError

MAX_NAME_LENGTH = 120
"""Longer run names are cut and given a hash suffix: far below the 255-byte file-name limit,
so a set path, a run name and ``evaluations/<task>/<log file>`` still fit comfortably."""
HASH_LENGTH = 8

SINGLE_RUN_NAME = "run"
"""The name of the one run of a set where nothing varies."""

FINE_TUNED, CONTROL, EVALUATION_ONLY = "fine-tuned", "control", "evaluation-only"
"""The kinds of run: fine-tuned by the set, the untuned base model, or a checkpoint made elsewhere."""

CONTROL_PREFIX = "base"
"""Control runs are named ``base`` (one model) or ``base_<model text>`` (``base_1B``): the untuned model."""

_DATA_SUFFIX = re.compile(r"\.(jsonl|json|csv|parquet|txt|arrow)$", re.IGNORECASE)
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class ParameterNaming:
    """How one varied parameter appears in run names."""

    key: str
    prefix: str
    values: tuple[Scalar, ...]
    texts: tuple[str, ...]  # the text for each value, in the same order
    rule: str  # how the texts were made, for the README and the preview
    omitted: int | None = None
    """The index of the value that stands for nothing in run names, with the template's text before it:
    the value the set's runs had before an ``extend`` made this parameter vary, so their names stay."""

    def token_of(self, value: Scalar, convention: Convention) -> str:
        """The part of a run name that stands for ``value``: with the default template, prefix and text;
        empty for the value left out of names."""
        if self.is_omitted(value):
            return ""
        return (self.prefix if not convention.custom_template else "") + self.text_of(value)

    def is_omitted(self, value: Scalar) -> bool:
        """Whether ``value`` is the one left out of run names."""
        return self.omitted is not None and value_identity(self.values[self.omitted]) == value_identity(value)

    def text_of(self, value: Scalar) -> str:
        """The text that stands for ``value`` in run names, without the prefix."""
        return self._text_by_identity[value_identity(value)]

    @cached_property
    def _text_by_identity(self) -> dict[tuple[str, object], str]:
        return {value_identity(v): t for v, t in zip(self.values, self.texts, strict=True)}


@dataclass(frozen=True)
class Convention:
    """A run-name template and the value texts it fills in."""

    template: str
    parameters: tuple[ParameterNaming, ...]
    custom_template: bool

    def parts(self) -> list[tuple[str, str | None]]:
        """The template as ``(literal text, parameter or None)`` pairs."""
        return [(literal, field) for literal, field, _, _ in _FORMATTER.parse(self.template)]


@dataclass(frozen=True)
class Run:
    """One run of the set: its folder name and the varied values that define it.

    A run of kind ``control`` fine-tunes nothing: it evaluates the untuned base model named in
    ``varied["model"]``, so that every fine-tune's score has its baseline beside it. A run of kind
    ``evaluation-only`` evaluates a checkpoint made elsewhere (``source``: a previous set's ``epoch_N/``,
    an external fine-tune), fine-tuned from ``varied["model"]``.
    """

    name: str
    varied: dict[str, Scalar]
    shortened: bool = False
    kind: str = FINE_TUNED
    source: str | None = None

    @property
    def evaluated_only(self) -> bool:
        """Whether this run only evaluates (a control or an evaluation-only run): no fine-tune of its own."""
        return self.kind != FINE_TUNED


@dataclass(frozen=True)
class ExperimentSet:
    """A plan with everything derived from it: the set's folder name, the convention and the runs."""

    plan: Plan
    set_name: str
    convention: Convention
    runs: tuple[Run, ...]  # the fine-tunes
    controls: tuple[Run, ...] = ()  # the base models, evaluated only
    evaluation_only: tuple[Run, ...] = ()  # checkpoints made elsewhere, evaluated only
    removed: tuple[str, ...] = ()  # runs of the convention taken out with `expset remove`: in none of the above
    missing: tuple[Run, ...] = ()  # runs whose folder is gone, deleted by hand: treated as removed
    history: tuple[HistoryEntry, ...] = ()  # the changes since create: extensions and removals

    @property
    def all_runs(self) -> tuple[Run, ...]:
        """Every run folder of the set: the fine-tunes, the controls, then the evaluation-only runs."""
        return self.runs + self.controls + self.evaluation_only


def design_set(plan: Plan, *, max_runs: int | None = None) -> ExperimentSet:
    """Derive the set's folder name, the naming convention and every run from ``plan``.

    With ``max_runs``, a plan with more runs than that is refused before any run is built.
    """
    if max_runs is not None:
        check_run_count(plan, max_runs)
    convention = derive_convention(plan)
    runs = derive_runs(convention)
    controls = derive_controls(plan, convention, runs)
    return ExperimentSet(
        plan=plan,
        set_name=derive_set_name(plan, convention),
        convention=convention,
        runs=runs,
        controls=controls,
        evaluation_only=derive_evaluation_only(plan, runs + controls),
    )


def derive_convention(plan: Plan) -> Convention:
    """The convention for ``plan``: its ``naming.template`` if given, else the default one."""
    parameters = tuple(parameter_naming(plan, key, values) for key, values in plan.vary.items())
    if plan.naming.template is not None:
        check_template(plan.naming.template, list(plan.vary), plan)
        return Convention(template=plan.naming.template, parameters=parameters, custom_template=True)
    template = "_".join(f"{p.prefix}{{{p.key}}}" for p in parameters) or SINGLE_RUN_NAME
    return Convention(template=template, parameters=parameters, custom_template=False)


def derive_runs(convention: Convention) -> tuple[Run, ...]:
    """One run per combination of values (first parameter outermost), each with a unique safe name."""
    parts = convention.parts()
    by_key = {p.key: p for p in convention.parameters}
    runs: list[Run] = []
    taken: dict[str, Run] = {}
    for combination in _combinations(convention.parameters):
        texts = {key: by_key[key].texts[index] for key, index in combination}
        left_out = {key for key, index in combination if by_key[key].omitted == index}
        full = "".join(literal + (texts[field] if field else "") for literal, field in parts if field not in left_out)
        name, shortened = shorten(full)
        varied = {key: by_key[key].values[index] for key, index in combination}
        if not is_safe_name(name):
            raise NamingError(
                f"naming: run {_describe(varied)} would be named {name!r}, which is not a safe folder name",
                hint="set naming.aliases for that value or change naming.template",
            )
        run = Run(name=name, varied=varied, shortened=shortened)
        if name in taken:
            raise NamingError(
                f"naming: runs {_describe(taken[name].varied)} and {_describe(varied)} would both be named {name!r}",
                hint="give one value a distinct text in naming.aliases, or change naming.template",
            )
        taken[name] = run
        runs.append(run)
    return tuple(runs)


def derive_controls(plan: Plan, convention: Convention, runs: tuple[Run, ...]) -> tuple[Run, ...]:
    """One control run per distinct model when the plan asks for controls: ``base`` for a fixed model,
    ``base_<the model's text in run names>`` for each varied one (``base_1B``)."""
    if not plan.controls:
        return ()
    if "model" not in plan.vary:
        models: list[tuple[str, Scalar]] = [(CONTROL_PREFIX, plan.fixed["model"])]  # type: ignore[list-item]
    else:
        naming = next(p for p in convention.parameters if p.key == "model")
        models = [  # the model the set had before its model varied keeps the name its control had: base
            (CONTROL_PREFIX if naming.is_omitted(value) else f"{CONTROL_PREFIX}_{naming.text_of(value)}", value)
            for value in naming.values
        ]
    taken = {run.name for run in runs}
    controls = []
    for name, model in models:
        if name in taken or not is_safe_name(name):
            raise NamingError(
                f"naming: the control run of model {format_value(model)} would be named {name!r}, "
                + ("which a fine-tune already is" if name in taken else "which is not a safe folder name"),
                hint="change naming.template or naming.aliases.model, or set controls: false",
            )
        taken.add(name)
        controls.append(Run(name=name, varied={"model": model}, kind=CONTROL))
    return tuple(controls)


def derive_evaluation_only(plan: Plan, taken: tuple[Run, ...]) -> tuple[Run, ...]:
    """One run per checkpoint in the plan's ``evaluate_only``, named as the plan names it."""
    names = {run.name for run in taken}
    found = []
    for name, checkpoint in plan.evaluate_only.items():
        if name in names:
            raise NamingError(
                f"evaluate_only.{name}: another run of the set is already named {name!r}",
                hint="give the checkpoint another name",
            )
        model = checkpoint.model if checkpoint.model is not None else model_of(plan)
        found.append(Run(name=name, varied={"model": model}, kind=EVALUATION_ONLY, source=checkpoint.path))
    return tuple(found)


def shorten(name: str) -> tuple[str, bool]:
    """``name``, or when longer than ``MAX_NAME_LENGTH`` its head plus ``-`` and a short hash of the whole."""
    if len(name.encode()) <= MAX_NAME_LENGTH:
        return name, False
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_LENGTH]
    head = name[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("-_.")
    return f"{head}-{digest}", True


def decode_run_name(convention: Convention, name: str) -> dict[str, Scalar] | None:
    """The varied parameters of the run called ``name``, or None when no run of the convention has it."""
    match = _decoder(convention).fullmatch(name)
    if match:
        by_key = {p.key: p for p in convention.parameters}
        fields = [field for _, field in convention.parts()]
        decoded = {}
        for group, text in match.groupdict().items():
            key = fields[int(group.removeprefix("p"))]
            assert key is not None
            naming = by_key[key]
            if text is None:  # the optional part of a value left out of names
                assert naming.omitted is not None
                decoded[key] = naming.values[naming.omitted]
            else:
                decoded[key] = naming.values[naming.texts.index(text)]
        return {p.key: decoded[p.key] for p in convention.parameters}
    for run in derive_runs(convention) if _could_be_shortened(name) else ():
        if run.name == name:
            return run.varied
    return None


def derive_set_name(plan: Plan, convention: Convention) -> str:
    """``<slug>_<YYYY-MM-DD>``: the slug from the plan's ``name``, else from what varies."""
    slug = slugify(plan.name) if plan.name else _slug_from_vary(convention, plan.models)
    slug = slug[:80].rstrip("-._") or "experiments"
    assert plan.date is not None, "parse_plan fills the date"
    return f"{slug}_{plan.date.isoformat()}"


def _slug_from_vary(convention: Convention, models: dict[str, ModelSpec]) -> str:
    words = []
    for naming in convention.parameters:
        if naming.key == "model" and _model_sizes(list(naming.values), models) is not None:
            known = find_model(str(naming.values[0]), models)
            words.append(f"{known.family}-size" if known and known.family else "size")
        else:
            known = parameter(naming.key)
            words.append(known.set_word if known and known.set_word else _word(naming.key))
    return "-".join(words) or "single-run"


def parameter_naming(plan: Plan, key: str, values: list[Scalar]) -> ParameterNaming:
    if key == "model":
        texts, rule = _model_texts(values, plan.models)
    elif key == "dataset":
        texts, rule = _dataset_texts(values)
    elif (known := parameter(key)) is not None and known.scientific:
        texts = [format_scientific(v) if _is_number(v) else slugify(str(v)) for v in values]
        rule = "the learning rate in scientific form"
    else:
        texts = [format_number(v) if _is_number(v) else slugify(format_value(v)) for v in values]
        rule = f"the value of {key}"
    aliased = [alias_for(plan, key, v) for v in values]
    if any(aliased):
        rule += " (aliases from naming.aliases)"
    texts = [alias or text for alias, text in zip(aliased, texts, strict=True)]
    for value, text in zip(values, texts, strict=True):
        if not text:
            raise NamingError(
                f"naming: vary.{key} value {value!r} leaves no letters or digits for a name",
                hint=f"give it a name in naming.aliases.{key}",
            )
    return ParameterNaming(key=key, prefix=_prefix(key, texts), values=tuple(values), texts=tuple(texts), rule=rule)


def _prefix(key: str, texts: list[str]) -> str:
    known = parameter(key)
    if known is not None and known.prefix is not None:
        return known.prefix
    separator = "" if all(t[:1].isdigit() for t in texts) else "-"
    return _word(key) + separator


def _word(key: str) -> str:
    """A parameter's word in names: its key slugged, or a torchtune setting's last part (``betas``)."""
    return slugify(key.rsplit(".", 1)[-1])


def _model_sizes(values: list[Scalar], models: dict[str, ModelSpec]) -> list[str] | None:
    """The models' sizes (``1B``, ``3B``) when they differ only in size, else None."""
    described = [_describe_model(str(v), models) for v in values]
    families = {(family, variant) for family, _, variant in described}
    sizes = [size for _, size, _ in described]
    if len(families) == 1 and None not in sizes and len(set(sizes)) == len(sizes) and len(values) > 1:
        return [str(size) for size in sizes]
    return None


def _model_texts(values: list[Scalar], models: dict[str, ModelSpec]) -> tuple[list[str], str]:
    sizes = _model_sizes(values, models)
    if sizes is not None:
        return sizes, "the model size (the models differ only in size)"
    described = [_describe_model(str(v), models) for v in values]
    texts = []
    mixed_variants = len({variant for _, _, variant in described}) > 1
    for value in values:
        info = find_model(str(value), models)
        if info is None or info.label is None:
            texts.append(slugify(str(value).rstrip("/").rsplit("/", 1)[-1]))
        else:
            texts.append(info.label + ("-it" if mixed_variants and info.variant == "instruct" else ""))
    rule = "a short model label: family and size" + (", -it for instruct" if mixed_variants else "")
    return texts, rule


def _describe_model(identifier: str, models: dict[str, ModelSpec]) -> tuple[str, str | None, str]:
    """(family, size, variant) of a model: as its entry says, else read from its name."""
    info = find_model(identifier, models)
    if info is not None and info.family and info.size:
        return info.family, info.size, info.variant or ""
    size = guess_size(identifier)
    base = identifier.rstrip("/").rsplit("/", 1)[-1]
    if size is not None:
        base = re.sub(re.escape(size[:-1]) + "[bB]", "", base, count=1)
    return slugify(base), size, ""


def _dataset_texts(values: list[Scalar]) -> tuple[list[str], str]:
    stems = [slugify(_DATA_SUFFIX.sub("", str(v).rstrip("/").rsplit("/", 1)[-1])) for v in values]
    if len(set(stems)) == len(stems):
        return stems, "the dataset file or name, as a slug"
    return [slugify(_DATA_SUFFIX.sub("", str(v))) for v in values], "the dataset path, as a slug"


def check_template(template: str, varied: list[str], plan: Plan) -> None:
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as error:
        raise NamingError(
            f"naming.template: {template!r} is not a template ({error})",
            hint='write parameters as {name}, e.g. "{model}_r{lora_rank}"',
        ) from None
    used = []
    for literal, field, spec, conversion in parts:
        if literal and not re.fullmatch(r"[A-Za-z0-9._-]*", literal):
            raise NamingError(
                f"naming.template: the text {literal!r} cannot appear in a folder name",
                hint="use letters, digits, '.', '-' and '_' between the {parameters}",
            )
        if field is None:
            continue
        if spec or conversion:
            raise NamingError(
                f"naming.template: {{{field}}} has a format or conversion",
                hint="write plain {parameter} fields; numbers are formatted by expset",
            )
        if field not in varied:
            reason = "fixed parameters never appear in names" if field in plan.fixed else "it is not in vary"
            raise NamingError(
                f"naming.template: {{{field}}} is not a varied parameter ({reason})",
                hint=f"use only: {', '.join('{' + k + '}' for k in varied)}",
            )
        used.append(field)
    missing = [key for key in varied if key not in used]
    if missing:
        raise NamingError(
            f"naming.template: {template!r} leaves out {', '.join(missing)}, so runs would share names",
            hint=f"add {' '.join('{' + k + '}' for k in missing)} to the template",
        )
    if not parts or not SAFE_NAME.fullmatch(parts[0][0] or "x"):
        raise NamingError(
            f"naming.template: {template!r} must start with a letter, a digit or a parameter",
            hint="remove the leading '.', '-' or '_'",
        )


def _decoder(convention: Convention) -> re.Pattern[str]:
    by_key = {p.key: p for p in convention.parameters}
    pattern = ""
    for position, (literal, field) in enumerate(convention.parts()):
        if not field:
            pattern += re.escape(literal)
            continue
        naming = by_key[field]
        texts = [text for index, text in enumerate(naming.texts) if index != naming.omitted]
        options = sorted(set(texts), key=len, reverse=True)
        group = f"{re.escape(literal)}(?P<p{position}>{'|'.join(map(re.escape, options))})"
        pattern += group if naming.omitted is None else f"(?:{group})?"
    return re.compile(pattern)


def _could_be_shortened(name: str) -> bool:
    return bool(re.search(rf"-[0-9a-f]{{{HASH_LENGTH}}}$", name))


def _combinations(parameters: tuple[ParameterNaming, ...]) -> Iterator[list[tuple[str, int]]]:
    ranges = [[(p.key, i) for i in range(len(p.values))] for p in parameters]
    for combination in itertools.product(*ranges):
        yield list(combination)


def _is_number(value: Scalar) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe(varied: dict[str, Scalar]) -> str:
    """``{model: 0, dataset: '0'}``: text that reads like a number or boolean is quoted."""

    def shown(value: Scalar) -> str:
        looks_typed = isinstance(value, str) and (parse_number(value) is not None or value in ("true", "false"))
        unprintable = isinstance(value, str) and not value.isprintable()  # a newline would break the one-line error
        return repr(value) if looks_typed or unprintable else format_value(value)

    return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in varied.items()) + "}"

"""A run's setup: every input of its fine-tune and evaluations, in one validated record.

``setup_finetune.yaml`` holds it. It is derived here from the plan, the run and the site settings
(profile merged with the plan's ``site``), and it is the layer a researcher may edit by hand: the
torchtune config and the job scripts are derived from it, never from the plan directly.
Pure: paths and site settings are passed in; nothing here touches the disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from expset.core.models import ModelBuild, ModelSpec, checkpoint_folder, find_model
from expset.core.naming import ExperimentSet, Run
from expset.core.overrides import REMOVE, is_override, override_problem, unknown_key_problem
from expset.core.parameters import BY_KEY, TEMPLATE_INPUT, field_constraints, value_problem
from expset.core.run_length import (
    DISTRIBUTED_RECIPE,
    SINGLE_DEVICE_RECIPE,
    WARMUP_PATH,
    RunLength,
    kept_percent,
    run_length,
    training_gpus,
    training_samples,
    training_values,
)
from expset.core.sections import DataFormat, Evaluation, Validation
from expset.core.site_settings import MEMORY, TIME, Site, SlurmSetup, check_sbatch_value
from expset.errors import SetupError

_UNSAFE_SBATCH_PATH = re.compile(r"[\s\"'%$`\\#,]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSetup(ModelBuild):
    """The run's model: how torchtune builds it, and where its checkpoint is."""

    name: str = Field(description="The model's name in the plan.")
    folder: str = Field(description="The checkpoint folder, absolute.")
    base: str | None = Field(
        default=None,
        description="For a checkpoint made elsewhere: the base model's folder, onto which an adapter-only "
        "checkpoint is loaded (None when no models folder is set).",
    )


class DataSetup(DataFormat):
    """The run's training data: its format, as the plan's data: section gives it, and the file."""

    path: str = Field(description="The training data file, absolute.")


class TrainingSetup(_Strict):
    """The fine-tune's hyperparameters, held to the same ranges as in a plan."""

    lr: float = Field(**field_constraints("lr"))
    lora_rank: int = Field(**field_constraints("lora_rank"))
    lora_alpha: int | float = Field(**field_constraints("lora_alpha"))
    lora_dropout: float = Field(**field_constraints("lora_dropout"))
    epochs: int = Field(**field_constraints("epochs"))
    batch_size: int = Field(**field_constraints("batch_size"))
    gradient_accumulation_steps: int = Field(**field_constraints("gradient_accumulation_steps"))
    max_seq_len: int | None = Field(default=None, **field_constraints("max_seq_len"))
    seed: int | None = Field(default=None, **field_constraints("seed"))
    save_adapter_weights_only: bool = Field(default=True, **field_constraints("save_adapter_weights_only"))
    max_steps_per_epoch: int | None = Field(default=None, **field_constraints("max_steps_per_epoch"))
    device: Literal["cuda", "cpu"] = Field(default="cuda", description="where the fine-tune runs")
    dtype: Literal["bf16", "fp32", "fp16"] = Field(default="bf16", description="the training precision")


class ResourcesSetup(_Strict):
    """What the fine-tune asks SLURM for."""

    gpus: int = Field(**field_constraints("gpus"))
    cpus: int = Field(ge=1, description="CPU cores per task.")
    mem: str = Field(description="Host memory, as SLURM writes it: 64G.")
    time: str = Field(description="Time limit, as SLURM writes it: 04:00:00 or 1-00:00:00.")

    @field_validator("mem")
    @classmethod
    def _memory(cls, value: str) -> str:
        return check_sbatch_value(MEMORY, value)

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        return check_sbatch_value(TIME, value)


class ValidationSetup(_Strict):
    """The data the fine-tune is validated on (a split of a data file) and how often."""

    path: str = Field(description="The data file, absolute: the training data's, or one of its own.")
    split: str = Field(default="train", description="The split of it, as Hugging Face writes it: train[90%:].")
    every_n_steps: int = Field(ge=1, description="Optimizer steps between validations.")


class PromptSetup(_Strict):
    """The prompt the run trains with and every evaluation of it uses."""

    system: str | None = Field(default=None, description=BY_KEY["prompt.system"].meaning)
    template: str | None = Field(default=None, description=BY_KEY["prompt.template"].meaning)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        problem = None if value is None else value_problem("prompt.template", value)
        if problem is not None:
            raise ValueError(f"{value!r} {problem}")
        return value

    def parts(self) -> tuple[str, str] | None:
        """The template as (text before the input, text after it); None when there is no template."""
        if self.template is None:
            return None
        before, _, after = self.template.partition(TEMPLATE_INPUT)
        return before, after

    def digest(self) -> str | None:
        """A SHA-256 of the prompt, recorded with each evaluation; None when the run has no prompt."""
        if self.system is None and self.template is None:
            return None
        text = json.dumps({"system": self.system, "template": self.template}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


class EvaluationSetup(_Strict):
    """One inspect-ai evaluation of the run: the task, its arguments and the epochs it evaluates."""

    name: str = Field(description="The task's folder under evaluations/.")
    task: str = Field(description="The inspect task, as /absolute/path/task.py@task_name.")
    args: dict[str, Any] = Field(default_factory=dict, description="The task's arguments (-T), with their types.")
    epochs: list[int] = Field(description="The epochs evaluated, numbered from 0; one job each.")
    generate: dict[str, Any] = Field(default_factory=dict, description="inspect's generation settings.")
    resources: ResourcesSetup | None = Field(
        default=None, description="What each job asks SLURM for (left out by earlier versions: 1 GPU, 1 hour)."
    )


class RunSetup(_Strict):
    """Everything one run needs: the content of its ``setup_finetune.yaml``.

    Where the run lives is not part of it: that follows from where its folder is, so a set that is
    copied or moved, edited setups included, is scaffolded for its new place.
    """

    run: str = Field(description="The run's name: its folder's name.")
    kind: Literal["fine-tuned", "control", "evaluation-only"] = Field(
        default="fine-tuned",
        description="fine-tuned; control: the untuned base model; evaluation-only: a checkpoint made elsewhere "
        "(model.folder). The last two are evaluated once, as epoch 0, and never trained.",
    )
    model: ModelSetup
    data: DataSetup
    training: TrainingSetup
    resources: ResourcesSetup
    slurm: SlurmSetup
    prompt: PromptSetup = Field(default_factory=PromptSetup)
    validation: ValidationSetup | None = Field(
        default=None, description="A validation loss in the training log (single-device recipe only)."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="torchtune settings by their config path (optimizer.weight_decay: 0.1), applied last to the "
        "generated config; ~path removes one.",
    )
    parameters: dict[str, Any] = Field(description="The run's plan parameters, for evaluation metadata.")
    evaluations: list[EvaluationSetup] = Field(default_factory=list, description="One entry per evaluation task.")

    @field_validator("settings")
    @classmethod
    def _settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        for key, value in settings.items():
            problem = override_problem(key) if is_override(key) else "is not a torchtune config path"
            if problem is None and key.startswith(REMOVE) and value is not None:
                problem = "removes a setting, so its value must be null"
            if problem is None and value is not None and (problem := value_problem(key, value)) is not None:
                problem = f"{value!r} {problem}"
            if problem is not None:
                raise ValueError(f"{key} {problem}")
        return settings

    @model_validator(mode="after")
    def _evaluations_fit_the_training(self) -> RunSetup:
        """Checked here so that a hand-edited setup is held to the same rules as a derived one."""
        epochs = self.training.epochs
        for evaluation in self.evaluations:
            late = [epoch for epoch in evaluation.epochs if not 0 <= epoch < epochs]
            if late:
                raise ValueError(
                    f"evaluations.{evaluation.name}.epochs: {late} — this run trains {epochs} epoch(s), "
                    f"numbered 0 to {epochs - 1}; epochs are numbered from 0"
                )
        if self.validation is not None and self.recipe != SINGLE_DEVICE_RECIPE and not self.evaluated_only:
            raise ValueError(
                f"validation: torchtune's {self.recipe} recipe (0.6.1) has no validation loop, and expset adds one "
                f"to {SINGLE_DEVICE_RECIPE} only — train on one GPU, or leave validation out"
            )
        if (self.prompt.system or self.prompt.template) and self.data.format == "text" and not self.evaluated_only:
            raise ValueError(
                "prompt: plain-text data (data.format: text) has no conversation to put a system prompt or a "
                "template in — use instruct or chat data, or leave prompt out"
            )
        if self.prompt.template is not None and self.model.tokenizer in CHAT_FORMAT_TEMPLATES:
            raise ValueError(
                f"prompt.template: {self.model.name}'s chat format is torchtune's prompt template, which "
                "prompt.template would replace in training but not in evaluation — leave prompt.template out"
            )
        return self

    @property
    def evaluated_only(self) -> bool:
        """Whether this run only evaluates a model (its base model, or a checkpoint made elsewhere)."""
        return self.kind != "fine-tuned"

    def training_digest(self) -> str:
        """A SHA-256 of what the fine-tune learns from: model, data, training, prompt, validation and
        settings — not where files are (a moved set trains the same), nor its jobs' resources or evaluations."""
        data = self.model_dump(mode="json", include=set(TRAINING_INPUTS))
        for section, field in LOCATIONS:
            if data.get(section):
                data[section].pop(field, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    @property
    def recipe(self) -> str:
        """The torchtune recipe: distributed on more than one GPU, else single device."""
        return DISTRIBUTED_RECIPE if self.resources.gpus > 1 else SINGLE_DEVICE_RECIPE


PROMPT_KEYS = ("prompt.system", "prompt.template")
CHAT_FORMAT_TEMPLATES = frozenset({"torchtune.models.mistral.mistral_tokenizer"})
"""Tokenizers whose chat format is itself a torchtune prompt template (Mistral's [INST] … [/INST])."""
TRAINING_INPUTS = ("model", "data", "training", "prompt", "validation", "settings")
"""The setup's sections a fine-tune learns from."""
LOCATIONS = (("model", "folder"), ("model", "base"), ("data", "path"), ("validation", "path"))
"""Fields of those sections that say where a file is, not what it holds."""

LOCATION_KEYS = ("set", "run_dir")
"""Keys that setups written by earlier versions held: where a run lives now follows from its folder."""


def check_set_path(set_dir: str) -> None:
    """Refuse a set folder whose path SLURM cannot take in ``#SBATCH --output`` (where ``%`` is a pattern
    and ``#`` starts a comment), nor inspect in ``-M model_path=…`` (which splits text at commas)."""
    if _UNSAFE_SBATCH_PATH.search(set_dir):
        raise SetupError(
            f"{set_dir}: the set's folder has a space, quote, '%', '$', '#', ',' or backslash, which its jobs "
            "cannot take in #SBATCH --output or inspect's -M model_path (the run_dir of its jobs)",
            hint="move the set to a plainer path",
        )


def derive_run_setup(
    experiment_set: ExperimentSet,
    run: Run,
    *,
    site: Site,
    data_path: str,
    task_paths: dict[str, str],
    expand_path: Callable[[str], str] = str,
    samples: int | None = None,
    validation_path: str | None = None,
) -> RunSetup:
    """The setup of ``run``. The caller resolved ``data_path`` and ``task_paths`` (one per evaluation) on
    disk (and the validation file, when the plan has one), counted the data's ``samples`` where it could,
    and gives ``expand_path`` for model folders written with ``~`` or ``$VAR`` (the environment is its to read)."""
    plan = experiment_set.plan
    if run.evaluated_only:  # a model only; the prompt, when the whole set shares one, is the fine-tunes'
        parameters = {**run.varied, **{key: value for key, value in plan.fixed.items() if key in PROMPT_KEYS}}
    else:
        parameters = {**run.varied, **plan.fixed}
    for key in parameters:
        problem = unknown_key_problem(key, set(plan.labels))
        if problem is not None:  # a set recorded before these keys were checked when the plan is read
            raise SetupError(
                f"run {run.name}: {key} {problem}",
                hint="fix the plan in the set's expset.yaml (or declare a parameter of your own under labels:)",
            )
    model_name = str(parameters.get("model", ""))
    model = find_model(model_name, plan.models)
    if model is None:
        raise SetupError(
            f"run {run.name}: model {model_name!r} is not in expset's model table"
            if model_name
            else f"run {run.name}: no model — add model to vary or fixed",
            hint="define it under models: in the plan (see `expset schema`), or use one of `expset models`",
        )
    training = training_values(parameters, model)
    gpus = training_gpus(parameters, model)
    data = {"path": data_path, **plan.data.model_dump()}
    validation = None
    if plan.validation is not None and not run.evaluated_only:
        validation, data["split"], samples = _validation(plan.validation, data, validation_path, samples)
    model_setup = _model_setup(model_name, model, site, expand_path, run.source)
    setup = {
        "run": run.name,
        "kind": run.kind,
        "model": model_setup,
        "data": data,
        "training": training,
        "resources": {
            "gpus": gpus,
            "cpus": max(1, gpus),
            "mem": str(parameters.get("mem", f"{model.gpu_memory_gb}G")),
            "time": str(parameters.get("time") or site.time or model.time),
        },
        "slurm": {
            key: value for key, value in site.model_dump(exclude_none=True).items() if key in SlurmSetup.model_fields
        },
        "prompt": {"system": parameters.get("prompt.system"), "template": parameters.get("prompt.template")},
        "validation": validation
        and {
            **validation,
            "every_n_steps": validation["every_n_steps"] or _validation_interval(parameters, model, samples),
        },
        "settings": {} if run.evaluated_only else _settings(parameters, run_length(parameters, model, samples)),
        "parameters": parameters,
        "evaluations": [
            {
                "name": evaluation.name,
                "task": task_paths[evaluation.name],
                "args": dict(evaluation.args),
                "epochs": [0] if run.evaluated_only else evaluated_epochs(evaluation.epochs, training["epochs"]),
                "generate": dict(evaluation.generate),
                "resources": evaluation_resources(evaluation, model, site, parameters),
            }
            for evaluation in plan.evaluations
        ],
    }
    return validate_setup(setup, f"run {run.name}")


def _validation(
    planned: Validation, data: dict[str, Any], validation_path: str | None, samples: int | None
) -> tuple[dict[str, Any], str, int | None]:
    """The validation data (file and split), the training data's split, and its samples: a held-out
    fraction is the end of the training file, and training uses the rest."""
    every = planned.every_n_steps
    if planned.fraction is not None:
        kept = kept_percent(planned.fraction)
        validation = {"path": data["path"], "split": f"train[{kept}%:]", "every_n_steps": every}
        return validation, f"train[:{kept}%]", training_samples(samples, planned.fraction)
    if planned.file is not None:
        return {"path": validation_path, "split": "train", "every_n_steps": every}, data["split"], samples
    return {"path": data["path"], "split": planned.split, "every_n_steps": every}, data["split"], samples


VALIDATIONS_PER_RUN = 10
"""Without an interval, a run is validated this many times."""


def _validation_interval(parameters: dict[str, Any], model: ModelSpec, samples: int | None) -> int:
    """Steps between validations: a tenth of the run's steps, or every 50 steps when its length is unknown."""
    total = run_length(parameters, model, samples).total_steps
    return 50 if not total else max(1, total // VALIDATIONS_PER_RUN)


def evaluation_resources(
    evaluation: Evaluation, model: ModelSpec, site: Site, parameters: dict[str, Any]
) -> dict[str, Any]:
    """What an evaluation's jobs ask for: the evaluation's own, else the model's GPUs (a model that needs
    several is spread across them), the run's memory (the plan's mem, else the model's), and the
    profile's evaluation time, else the model's time limit."""
    gpus = evaluation.gpus if evaluation.gpus is not None else (0 if model.device == "cpu" else model.gpus)
    return {
        "gpus": gpus,
        "cpus": evaluation.cpus or max(1, gpus),
        "mem": evaluation.mem or str(parameters.get("mem", f"{model.gpu_memory_gb}G")),
        "time": evaluation.time or site.evaluation_time or model.time,
    }


def _settings(parameters: dict[str, Any], length: RunLength) -> dict[str, Any]:
    """The run's torchtune settings: the warm-up that follows its length, then the plan's, which win."""
    return {WARMUP_PATH: length.warmup, **{key: value for key, value in parameters.items() if is_override(key)}}


def validate_setup(data: Any, where: str) -> RunSetup:
    """``data`` as a ``RunSetup``, or a ``SetupError`` naming ``where``, the field and the problem."""
    try:
        return RunSetup.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])  # empty for a rule across fields
        message = first["msg"].removeprefix("Value error, ")
        raise SetupError(
            f"{where}: {field}: {message}" if field else f"{where}: {message}",
            hint="fix it in the plan (or the profile for slurm settings), or in that run's setup_finetune.yaml",
        ) from None


def _model_setup(
    name: str, model: ModelSpec, site: Site, expand_path: Callable[[str], str], source: str | None = None
) -> dict[str, Any]:
    """The run's model setup. ``source``, an evaluation-only run's checkpoint, is the folder it loads: the
    model's own folder, and so the models folder, then play no part."""
    base = checkpoint_folder(name, model, site.models_folder)
    folder = source if source is not None else base
    if folder is None:
        raise SetupError(
            f"model {name}: its folder {model.folder or name!r} is relative and no models folder is set",
            hint="run `expset profile init`, or set site.models_folder in the plan",
        )
    built = model.model_dump(include=set(ModelBuild.model_fields))
    if source is not None:
        return {"name": name, "folder": expand_path(folder), "base": base and expand_path(base), **built}
    return {"name": name, "folder": expand_path(folder), **built}


def evaluated_epochs(wanted: list[int] | str, epochs: int) -> list[int]:
    """``last`` and ``all`` as epoch numbers (from 0); a list is checked by ``RunSetup``."""
    if wanted == "last":
        return [epochs - 1]
    if wanted == "all":
        return list(range(epochs))
    return sorted(set(wanted))

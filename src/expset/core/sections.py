"""The parts of a plan: value types, and the sections beside ``vary`` and ``fixed`` — naming
overrides, evaluations and the data format (models: ``models``; site settings: ``site_settings``).

Pure: pydantic models and validators only.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import sys
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WithJsonSchema

from expset.core.site_settings import MEMORY, TIME
from expset.core.values import Scalar

_SCALAR_SCHEMA = {"type": ["string", "number", "integer", "boolean"]}


def _scalar(value: Any) -> Scalar:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        raise ValueError(f"a {value.bit_length()}-bit whole number is too large — numbers must be below 1.8e308")
    if isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"expected a single value (text, number or true/false), got {type(value).__name__}")


def _constant(value: Any) -> Scalar | list[Scalar] | None:
    if value is None:  # a torchtune setting set to null, or removed (~path)
        return None
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    return _scalar(value)


def _iso_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"{value!r} is not a calendar date ({error}) — write YYYY-MM-DD") from None
    plain = isinstance(value, (str, float)) or (isinstance(value, int) and value.bit_length() < 128)
    shown = repr(value)[:60] if plain else f"a value of type {type(value).__name__}"
    raise ValueError(f"{shown} is not a date — write YYYY-MM-DD, e.g. 2025-10-18")


ScalarValue = Annotated[Scalar, PlainValidator(_scalar), WithJsonSchema(_SCALAR_SCHEMA)]
ConstantValue = Annotated[
    Scalar | list[Scalar] | None,
    PlainValidator(_constant),
    WithJsonSchema({"anyOf": [_SCALAR_SCHEMA, {"type": "array", "items": _SCALAR_SCHEMA}, {"type": "null"}]}),
]
AliasKey = Annotated[Scalar, PlainValidator(_scalar), WithJsonSchema({"type": "string"})]
"""A value of a varied parameter, as an alias table's key: ``8: small`` arrives as the number 8."""
IsoDate = Annotated[dt.date, PlainValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]


class Naming(BaseModel):
    """Overrides for the naming convention."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str | None = Field(
        default=None,
        description='Run-name template using every varied parameter, e.g. "{model}_r{lora_rank}".',
    )
    aliases: dict[str, dict[AliasKey, str]] = Field(
        default_factory=dict,
        description='Per-value text in names, e.g. {dataset: {"census/acs income v2": acs2}}.',
    )


GENERATE_SETTINGS = {
    "temperature": "number",
    "max_tokens": "integer",
    "top_p": "number",
    "top_k": "integer",
    "seed": "integer",
    "num_choices": "integer",
    "best_of": "integer",
    "frequency_penalty": "number",
    "presence_penalty": "number",
    "logprobs": "boolean",
    "top_logprobs": "integer",
    "max_connections": "integer",
    "max_retries": "integer",
    "timeout": "integer",
    "attempt_timeout": "integer",
}
"""The settings of inspect's ``GenerateConfig`` that an evaluation may set: one value each. (Its system
message is the plan's ``prompt.system``, the same for training and evaluation.)"""


def _generate(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for key, item in value.items():
        if key == "system_message":
            raise ValueError("the system message is the plan's prompt.system, given to training and evaluation alike")
        if key not in GENERATE_SETTINGS:
            close = difflib.get_close_matches(str(key), list(GENERATE_SETTINGS), n=1)
            near = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"{key!r} is not a generation setting of inspect — {near}it takes {', '.join(GENERATE_SETTINGS)}"
            )
        kind = GENERATE_SETTINGS[key]
        number = isinstance(item, (int, float)) and not isinstance(item, bool)
        fits = isinstance(item, bool) if kind == "boolean" else number and (kind == "number" or isinstance(item, int))
        if not fits:
            raise ValueError(f"{key}: {item!r} is not {'a whole number' if kind == 'integer' else 'a ' + kind}")
    return value


def _sbatch(pattern: re.Pattern[str]) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"{value!r} cannot go in an #SBATCH line — write it as SLURM does (e.g. 64G, 04:00:00)")
        return value

    return check


class Evaluation(BaseModel):
    """An inspect-ai evaluation of every run: a task folder name and, to scaffold jobs, the task itself,
    how it generates, and what its jobs ask SLURM for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Folder name under evaluations/, e.g. arithmetic.")
    task: str | None = Field(default=None, description="inspect task as path/to/task.py@task_name.")
    args: dict[str, ScalarValue] = Field(default_factory=dict, description="Task arguments (-T key=value).")
    epochs: list[int] | Literal["last", "all"] = Field(
        default="last", description="Epochs to evaluate, numbered from 0; or last, or all."
    )
    generate: Annotated[dict[str, ScalarValue], BeforeValidator(_generate)] = Field(
        default_factory=dict,
        description="inspect's generation settings: temperature, max_tokens, seed, max_connections, …",
    )
    gpus: int | None = Field(default=None, ge=0, description="GPUs of each evaluation job (default: the model's).")
    cpus: int | None = Field(default=None, ge=1, description="CPU cores of each job (default: one per GPU).")
    mem: Annotated[str | None, BeforeValidator(_sbatch(MEMORY))] = Field(
        default=None, description="Host memory of each job, as SLURM writes it (default: the model's)."
    )
    time: Annotated[str | None, BeforeValidator(_sbatch(TIME))] = Field(
        default=None,
        description="Time limit of each job, as SLURM writes it (default: the profile's evaluation_time, "
        "else the model's).",
    )


class DataFormat(BaseModel):
    """How the training data is laid out; torchtune's dataset builder follows from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["instruct", "chat", "text"] = Field(
        default="instruct", description="instruct: input/output fields; chat: a messages list; text: plain text."
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field names in the file: input/output (instruct), messages (chat) or text (text).",
    )
    conversation_style: Literal["openai", "sharegpt"] = "openai"
    train_on_input: bool = False
    packed: bool = False
    split: str = "train"


class Validation(BaseModel):
    """Data the fine-tune is validated on, and how often: its loss lands in the training log as val_loss."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fraction: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Hold out this share of the training data (whole percents: 0.1, 0.05); training uses the rest.",
    )
    split: str | None = Field(
        default=None, description="A split of the training data file, as Hugging Face writes it: train[90%:]."
    )
    file: str | None = Field(default=None, description="A data file of its own, in the training data's format.")
    every_n_steps: int | None = Field(
        default=None, ge=1, description="Optimizer steps between validations (default: a tenth of the run)."
    )


class Checkpoint(BaseModel):
    """A checkpoint made elsewhere, evaluated beside the set's runs in a folder of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="Its folder, in Hugging Face format (a torchtune epoch_N/ folder, a merged model): "
        "absolute, or relative to the plan file."
    )
    model: str | None = Field(
        default=None,
        description="The model it was fine-tuned from, for its resources and device (default: the set's model).",
    )


def _checkpoint(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


CheckpointEntry = Annotated[Checkpoint, BeforeValidator(_checkpoint, json_schema_input_type=str | Checkpoint)]
"""A checkpoint to evaluate: its folder, or ``{path, model}``."""


def _evaluation(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


EvaluationEntry = Annotated[Evaluation, BeforeValidator(_evaluation, json_schema_input_type=str | Evaluation)]

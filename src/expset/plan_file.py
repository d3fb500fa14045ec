"""Plans from their three sources: a YAML file, command-line flags, a bundled example."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any

from expset.core.values import ANCHORED, is_safe_name
from expset.errors import PlanError, UsageError
from expset.render.yaml_read import load_scalar, load_yaml

EXAMPLES_PACKAGE = "expset.examples"
TASKS_FOLDER = "tasks"  # in the examples folder: one inspect task per file, named as the file
DATA_FOLDER = "data"  # in the examples folder: the training data the examples use
DATA_SUFFIXES = (".json", ".jsonl")


def read_plan_data(path: Path) -> Any:
    """The parsed content of plan file ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist", hint="check the path, or run `expset new`") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"plan file {path} cannot be read: {error}") from None
    return load_yaml(text, str(path))


def example_names() -> list[str]:
    """The bundled example plans, by name."""
    folder = resources.files(EXAMPLES_PACKAGE)
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def read_example_data(name: str) -> Any:
    """The parsed content of the bundled example ``name``."""
    entry = resources.files(EXAMPLES_PACKAGE) / f"{name}.yaml"
    if not entry.is_file():
        raise UsageError(
            f"--example: there is no example called {name!r}", hint=f"choose one of: {', '.join(example_names())}"
        )
    return load_yaml(entry.read_text(encoding="utf-8"), f"example {name}")


def parse_assignments(option: str, items: list[str], *, multiple: bool) -> dict[str, Any]:
    """``KEY=VALUE`` flags as a mapping; with ``multiple``, VALUE is a comma-separated list."""
    result: dict[str, Any] = {}
    for item in items:
        key, separator, text = item.partition("=")
        key = key.strip()
        if not separator or not key:
            example = "lora_rank=8,16" if multiple else "epochs=3"
            raise PlanError([f"{option} {item!r}: expected KEY=VALUE — e.g. {option} {example}"])
        if key in result:
            raise PlanError([f"{option} {key}: given twice — give it once"])
        if multiple:
            result[key] = [load_scalar(part.strip()) for part in text.split(",")] if text.strip() else []
        else:
            result[key] = load_scalar(text.strip())
    return result


def plan_data_from_flags(
    *,
    purpose: str | None,
    name: str | None,
    vary: list[str],
    fixed: list[str],
    evaluations: list[str],
    notes: str | None,
    author: str | None,
    date: str | None,
    template: str | None,
) -> dict[str, Any]:
    """The plan data the ``create``/``plan`` flags describe, in the plan file's own shape."""
    data: dict[str, Any] = {
        "name": name,
        "purpose": purpose,
        "author": author,
        "date": date,
        "vary": parse_assignments("--vary", vary, multiple=True),
        "fixed": parse_assignments("--fixed", fixed, multiple=False),
        "evaluations": [parse_evaluation(part) for item in evaluations for part in item.split(",") if part.strip()],
        "notes": notes,
    }
    if template:
        data["naming"] = {"template": template}
    return {key: value for key, value in data.items() if value not in (None, [], {})}


def overlay(data: Any, overrides: dict[str, Any]) -> Any:
    """Plan ``data`` with flag ``overrides`` applied on top (flags win, field by field)."""
    if not isinstance(data, dict):
        return data
    merged = dict(data)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):  # vary, fixed, naming
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def examples_folder() -> Path:
    """The bundled examples' folder: relative paths in a bundled example resolve against it."""
    return Path(str(resources.files(EXAMPLES_PACKAGE)))


@functools.lru_cache(maxsize=1)
def bundled_tasks() -> dict[str, str]:
    """The inspect tasks bundled with the examples, by name, as ``/absolute/path/name.py@name``."""
    folder = examples_folder() / TASKS_FOLDER
    return {path.stem: f"{path}@{path.stem}" for path in sorted(folder.glob("[!_]*.py"))}


def bundled_datasets() -> dict[str, str]:
    """The training data files bundled with the examples: their path in the data folder → absolute path."""
    folder = examples_folder() / DATA_FOLDER
    files = sorted(path for path in folder.rglob("*") if path.suffix in DATA_SUFFIXES)
    return {str(path.relative_to(folder)): str(path) for path in files}


def parse_evaluation(text: str, base: Path | None = None) -> dict[str, str] | str:
    """One ``--eval`` item: ``NAME=path/to/task.py@task`` (a relative path from ``base``, by default the
    current folder), or the NAME of a bundled task. Any other bare name is refused: scaffold would
    have no task to run for it."""
    name, separator, task = (part.strip() for part in text.partition("="))
    if separator:
        return {"name": name, "task": resolve_task_path(task, base or Path.cwd())}
    if not is_safe_name(name):
        return name  # the plan's own check names the evaluation and what a name may hold
    bundled = bundled_tasks()
    if name not in bundled:
        raise PlanError(
            [
                f"--eval {name!r}: no task of that name is bundled with expset, so there would be nothing to run "
                f"— write --eval {name}=path/to/task.py@task_name, or use one of: {', '.join(bundled)}"
            ]
        )
    return {"name": name, "task": bundled[name]}


def resolve_plan_paths(data: Any, base: Path) -> Any:
    """Plan ``data`` with its file references absolute, as the set's ``expset.yaml`` records them.

    ``base`` is the folder of the file they are written in (the current folder for flags). A relative
    task path or checkpoint folder resolves against it, and so does a dataset written ``./…`` or
    ``../…``, and a validation file (any other relative dataset is a name under the data folder). An
    evaluation without a task runs the bundled task of its name, when there is one. Anything malformed
    is left for the plan's checks.
    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    if isinstance(data.get("evaluations"), list):
        data["evaluations"] = [_resolve_evaluation(item, base) for item in data["evaluations"]]
    for section in ("fixed", "vary"):
        if isinstance(data.get(section), dict) and "dataset" in data[section]:
            data[section] = {**data[section], "dataset": _resolve_dataset(data[section]["dataset"], base)}
    validation = data.get("validation")
    if isinstance(validation, dict) and "file" in validation:
        data["validation"] = {**validation, "file": _resolve_dataset(validation["file"], base)}
    if isinstance(data.get("evaluate_only"), dict):
        data["evaluate_only"] = {name: _resolve_checkpoint(item, base) for name, item in data["evaluate_only"].items()}
    naming = data.get("naming")
    aliases = naming.get("aliases") if isinstance(naming, dict) else None
    if isinstance(aliases, dict) and isinstance(aliases.get("dataset"), dict):
        resolved = {_resolve_dataset(value, base): alias for value, alias in aliases["dataset"].items()}
        data["naming"] = {**naming, "aliases": {**aliases, "dataset": resolved}}
    return data


def resolve_task_path(task: str, base: Path) -> str:
    """``path/to/task.py@name`` with a relative path made absolute from ``base``; anything else unchanged."""
    file, separator, name = task.rpartition("@")
    if not separator or not file or file.startswith(ANCHORED):
        return task
    return f"{os.path.normpath(base / file)}@{name}"


_PLAN_RELATIVE = ("./", "../")


def _resolve_evaluation(item: Any, base: Path) -> Any:
    if isinstance(item, str):
        item = {"name": item} if item in bundled_tasks() else item
    if not isinstance(item, dict):
        return item
    if isinstance(item.get("task"), str):
        return {**item, "task": resolve_task_path(item["task"], base)}
    if "task" not in item and isinstance(item.get("name"), str) and item["name"] in bundled_tasks():
        return {**item, "task": bundled_tasks()[item["name"]]}
    return item


def _resolve_checkpoint(item: Any, base: Path) -> Any:
    """A checkpoint's folder made absolute from ``base`` unless it is anchored (``/``, ``~``, ``$``)."""
    path = item.get("path") if isinstance(item, dict) else item
    if not isinstance(path, str) or not path or path.startswith(ANCHORED):
        return item
    resolved = os.path.normpath(base / path)
    return {**item, "path": resolved} if isinstance(item, dict) else resolved


def _resolve_dataset(value: Any, base: Path) -> Any:
    if isinstance(value, list):
        return [_resolve_dataset(item, base) for item in value]
    if isinstance(value, str) and value.startswith(_PLAN_RELATIVE):
        return os.path.normpath(base / value)
    return value

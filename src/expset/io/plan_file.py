"""Plans from their three sources: a YAML file, command-line flags, a bundled example."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from expset.errors import PlanError, UsageError
from expset.io.yaml import load_scalar, load_yaml

EXAMPLES_PACKAGE = "expset.examples"


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
        "evaluations": [task.strip() for item in evaluations for task in item.split(",") if task.strip()],
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

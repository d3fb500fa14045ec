"""YAML 1.2 in and out: ``1e-4`` is a number, ``yes`` and ``no`` are text, duplicate keys are errors.

Reading uses ruamel.yaml; writing uses expset's own emitter (``render.yaml_text``).
"""

from __future__ import annotations

from typing import Any

from expset.errors import PlanError


def _yaml() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe")  # the C parser where ruamel.yaml.clib is installed


def load_yaml(text: str, source: str) -> Any:
    """Parse ``text``; raise ``PlanError`` that names ``source`` and the line of a syntax error."""
    from ruamel.yaml import YAMLError

    try:
        return _yaml().load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PlanError(
            [f"{where}: {problem}"],
            hint="check the indentation and quoting near that line (YAML)",
        ) from None


def load_scalar(text: str) -> Any:
    """Read one value the way a plan file would: ``1e-4`` → 0.0001, ``true`` → True, ``8`` → 8."""
    if not text.strip():
        return text
    try:
        value = load_yaml(text, "value")
    except PlanError:
        return text
    return value if isinstance(value, (bool, int, float, str)) else text

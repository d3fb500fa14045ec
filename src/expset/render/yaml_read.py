"""Reading YAML 1.2: ``1e-4`` is a number, ``yes`` and ``no`` are text, duplicate keys are errors.

Reading uses ruamel.yaml; writing uses expset's own emitter (``render.yaml_text``), which needs no
import of ruamel, so rendering a set stays quick. Reading is safe on
hostile text: nesting depth and alias expansion are bounded before a tree is built, and every problem,
down to an impossible date or a number too large, is one line naming the line of the file.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent

from expset.errors import FileFormatError

MAX_DEPTH = 50
"""Deepest nesting of lists and mappings read; plans need a handful of levels. Checked on the event
stream before any tree is built, so a list nested 100,000 deep is refused instead of exhausting the stack."""
MAX_ALIAS_EXPANSION = 100_000
"""How much aliases (``*name``) may add to a document, counted as values plus characters of text: aliases
that repeat a large value many times (the "billion laughs") are refused before the value is built."""
LARGEST_NUMBER = sys.float_info.max
"""Numbers must fit a float, so ``1e-4`` and ``0.0001`` compare equal and every number can be written back."""


class _ReadError(MarkedYAMLError):
    """A scalar the reader cannot turn into a value: an impossible date, ``!!int`` on text, a number too large."""


def _yaml() -> Any:
    yaml = YAML(typ="safe")  # the C parser where ruamel.yaml.clib is installed
    yaml.Constructor = _Constructor
    return yaml


def load_yaml(text: str, source: str) -> Any:
    """Parse ``text``; raise ``FileFormatError`` naming ``source`` and the line of any problem, in one line."""
    try:
        _check_shape(text)
        return _yaml().load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error).strip() or type(error).__name__
        hint = None if isinstance(error, _ReadError) else "check the indentation and quoting near that line (YAML)"
        raise FileFormatError(f"{where}: {_one_line(problem)}", hint=hint) from None
    except Exception as error:  # a reader failure not foreseen above still gets one line, not a traceback
        problem = _one_line(str(error) or type(error).__name__)
        raise FileFormatError(f"{source}: cannot be read as YAML — {problem}") from None


def _check_shape(text: str) -> None:
    """Refuse, from the event stream alone, nesting deeper than ``MAX_DEPTH`` and aliases that expand too far."""
    open_nodes: list[list[Any]] = []  # [anchor, weight] of each list or mapping being read
    weights: dict[str, int] = {}  # anchor → values plus characters of its node, aliases expanded
    added = 0

    def finish(anchor: str | None, weight: int) -> None:
        if open_nodes:
            open_nodes[-1][1] += weight
        if anchor is not None:
            weights[anchor] = weight

    for event in YAML(typ="safe").parse(text):
        if isinstance(event, CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise _ReadError(
                    problem=f"lists and mappings are nested more than {MAX_DEPTH} levels deep — "
                    "a plan needs only a few levels; check the brackets and indentation",
                    problem_mark=event.start_mark,
                )
            open_nodes.append([event.anchor, 1])
        elif isinstance(event, CollectionEndEvent):
            anchor, weight = open_nodes.pop()
            finish(anchor, weight)
        elif isinstance(event, ScalarEvent):
            finish(event.anchor, 1 + len(event.value))
        elif isinstance(event, AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise _ReadError(
                    problem=f"alias *{event.anchor} is inside the value &{event.anchor} it names — "
                    "a value cannot contain itself",
                    problem_mark=event.start_mark,
                )
            weight = weights.get(event.anchor, 0)  # an undefined alias is reported by the composer
            added += weight
            if added > MAX_ALIAS_EXPANSION:
                raise _ReadError(
                    problem=f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} values and characters — "
                    "write the values out, or repeat large values less",
                    problem_mark=event.start_mark,
                )
            finish(None, weight)


class _Constructor(SafeConstructor):
    """ruamel's safe constructor, reporting a scalar it cannot convert with its line instead of a traceback."""

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            data = super().construct_non_recursive_object(node, tag)
        except YAMLError:
            raise
        except Exception as error:  # int(), float(), date() and tag look-ups fail with plain exceptions
            raise _ReadError(problem=_conversion_problem(node, error), problem_mark=node.start_mark) from None
        if isinstance(data, float) and math.isinf(data) and not node.value.strip().lower().endswith(".inf"):
            raise _ReadError(
                problem=f"{_shown(node.value)} is too large for a number — numbers must be below 1.8e308",
                problem_mark=node.start_mark,
            )
        if type(data) is int and abs(data) > LARGEST_NUMBER:
            raise _ReadError(
                problem=f"{_shown(node.value)} is too large for a number — numbers must be below 1.8e308 "
                '(quote it, "…", if it is a name rather than a number)',
                problem_mark=node.start_mark,
            )
        return data


_KINDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "timestamp": "a date"}


def _conversion_problem(node: Any, error: Exception) -> str:
    kind = _KINDS.get(str(node.tag).rsplit(":", 1)[-1], "a value of its tag")
    if kind == "a date":
        return (
            f"{_shown(node.value)} is not a real date or time ({_one_line(str(error))}) — "
            "write a real date as YYYY-MM-DD, e.g. 2025-10-18"
        )
    if "digits" in str(error) and kind in ("a whole number", "a number"):
        return f"{_shown(node.value)} has too many digits for a number — numbers must be below 1.8e308"
    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
    return f"{_shown(node.value)} is not {kind} — remove the {tag} tag, or write {kind}"


def _shown(text: Any) -> str:
    """A value as quoted in a message: short, on one line."""
    text = str(text)
    return repr(text if len(text) <= 40 else f"{text[:30]}…({len(text):,} characters)")


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).splitlines()).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def load_scalar(text: str) -> Any:
    """Read one value the way a plan file would: ``1e-4`` → 0.0001, ``true`` → True, ``8`` → 8."""
    if not text.strip():
        return text
    try:
        value = load_yaml(text, "value")
    except FileFormatError:
        return text
    return value if isinstance(value, (bool, int, float, str)) else text

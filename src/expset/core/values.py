"""Canonical text for parameter values: slugs, number forms, the safe-name rule.

Every name expset writes to disk is built from these functions, so the rules live in one place.
Pure: no I/O.
"""

from __future__ import annotations

import math
import re

Scalar = str | int | float | bool

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""What every set, run and task folder name must match: no separators, no leading dot or dash."""

ANCHORED = ("/", "~", "$")
"""How a path that does not depend on the folder it is read from starts: absolute, home, a variable."""

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_REPEATED_SEPARATORS = re.compile(r"([-_.])[-_.]+")


def is_safe_name(text: str) -> bool:
    """Whether ``text`` can be a folder name that stays inside its parent on every file system."""
    return bool(SAFE_NAME.fullmatch(text)) and ".." not in text


def slugify(text: str) -> str:
    """A lower-case slug of ``text`` made of letters, digits, ``.``, ``-``; empty when nothing is left.

    ``/``, spaces and other characters become ``-``, so ``census/acs income v2`` becomes
    ``census-acs-income-v2``; runs of separators collapse and separators never lead or trail.
    """
    slug = _UNSAFE_RUN.sub("-", text.strip().lower()).replace("_", "-")
    slug = _REPEATED_SEPARATORS.sub(r"\1", slug)
    return slug.strip("-._")


def format_number(value: int | float) -> str:
    """The shortest exact text of a number: ``16``, ``0.05``, ``1e-4`` (never ``1e-04`` or ``1.0``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return _tidy_exponent(repr(value))


def format_scientific(value: int | float) -> str:
    """Normalised scientific form for learning rates: ``0.0001`` → ``1e-4``, ``2.5e-05`` → ``2.5e-5``."""
    if value == 0:
        return "0"
    candidate = f"{value:.16e}"
    for digits in range(17):  # the shortest mantissa that still names the same float
        candidate = f"{value:.{digits}e}"
        if float(candidate) == value:
            break
    mantissa, exponent = candidate.split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _tidy_exponent(text: str) -> str:
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def format_value(value: Scalar) -> str:
    """Human text of a value, as shown in tables and README files."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    return value


def value_identity(value: Scalar) -> tuple[str, object]:
    """A key under which equal values collide: ``1e-4 == 0.0001``, but ``True`` is not ``1``."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return ("text", value)


def parse_number(text: str) -> int | float | None:
    """The number ``text`` spells (``1e-4``, ``16``, ``0.05``), or None when it is not a number."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return None
    return number if math.isfinite(number) else None

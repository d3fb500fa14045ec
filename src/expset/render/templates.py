"""The Jinja2 environment every generated text file is rendered with.

Strict: a variable a template names but the context lacks is an error, never an empty string.
Templates are package data and only loop and format; the context is plain data built elsewhere.
"""

from __future__ import annotations

import shlex
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from expset.core.values import format_value
from expset.errors import RenderError
from expset.render.yaml_text import flow_text, scalar_text

if TYPE_CHECKING:
    import jinja2


def yaml_value(value: Any) -> str:
    """A YAML 1.2 flow value that reads back as exactly ``value``.

    Scalars are memoised: a 10,000-run set writes the same fixed values into every ``run.yaml``.
    """
    if isinstance(value, (str, int, float, bool)) or value is None:
        return _scalar_yaml(value, type(value))
    return flow_text(value)


@lru_cache(maxsize=8192)
def _scalar_yaml(value: Any, kind: type) -> str:  # the type keeps True and 1 apart in the cache
    return scalar_text(value)


def markdown_cell(value: Any) -> str:
    """``value`` as text that cannot break a Markdown table row."""
    text = format_value(value) if isinstance(value, (bool, int, float, str)) else flow_text(value)
    return text.replace("|", "\\|").replace("\n", " ")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment: StrictUndefined, templates from the package, expset's filters."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("expset", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),  # HTML pages escape every value
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yaml_value"] = yaml_value
    env.filters["cell"] = markdown_cell
    env.filters["shell"] = shlex.quote
    return env


def template(name: str) -> jinja2.Template:
    """The compiled template ``name`` (e.g. ``README.md.j2``)."""
    return environment().get_template(name)


def render(name: str, context: dict[str, Any]) -> str:
    """Render template ``name`` with ``context``; raise ``RenderError`` naming the template on failure."""
    import jinja2

    try:
        return template(name).render(context)
    except jinja2.TemplateError as error:
        raise RenderError(f"template {name}: {error}", hint="this is a bug in expset; please report it") from error


@cache
def source_file(name: str) -> str:
    """A file expset writes as it is, not a template (a recipe a job runs): its text from the package."""
    from importlib.resources import files

    return (files("expset") / "templates" / name).read_text(encoding="utf-8")

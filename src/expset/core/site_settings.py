"""This cluster's settings: one row each, from which the profile, a plan's ``site:``, each run's ``slurm:``
section, the ``#SBATCH`` lines of its jobs and the questions of ``expset profile init`` all follow.

A value that goes into an ``#SBATCH`` line must match its pattern: SLURM reads those lines itself,
without a shell, so quoting cannot protect them, and anything else is refused where it is read.
Pure: pydantic models and data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

_WORD = re.compile(r"[A-Za-z0-9_.,+-]+")
TIME = re.compile(r"(\d+-)?\d+(:\d{2}){0,2}")
"""A SLURM time limit: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM:SS``…"""
MEMORY = re.compile(r"\d+[KMGT]?")
"""A SLURM memory size: ``64G``, ``512M``…"""


@dataclass(frozen=True)
class SiteSetting:
    """One setting of the profile and of a plan's ``site:``.

    ``question`` is what ``expset profile init`` asks and what ``expset profile show`` prints above it,
    with ``example`` as the value to replace (visibly a placeholder where a real value is the site's own).
    A setting with a ``flag`` is passed to every job as ``#SBATCH --flag=value`` and is copied into each
    run's ``slurm:`` section (``per_run``), where it can be edited; ``pattern`` is what its value may look
    like. ``lines`` settings hold a list of shell lines instead of one value.
    """

    field: str
    question: str
    example: str | list[str] | bool
    flag: str | None = None
    pattern: re.Pattern[str] | None = None
    per_run: bool = False
    lines: bool = False
    switch: bool = False  # true or false; in a run's setup, the example is the default


SITE_SETTINGS: tuple[SiteSetting, ...] = (
    SiteSetting("root", "Folder where experiment sets are created", "/path/to/experiments"),
    SiteSetting("models_folder", "Folder holding model checkpoints (one sub-folder per model)", "/path/to/models"),
    SiteSetting("data_folder", "Folder holding training data", "/path/to/data"),
    SiteSetting("account", "SLURM account (blank: none)", "YOUR-ACCOUNT", flag="account", pattern=_WORD, per_run=True),
    SiteSetting(
        "partition",
        "SLURM partition (blank: the cluster's default)",
        "YOUR-PARTITION",
        flag="partition",
        pattern=_WORD,
        per_run=True,
    ),
    SiteSetting("qos", "SLURM QoS (blank: none)", "YOUR-QOS", flag="qos", pattern=_WORD, per_run=True),
    SiteSetting(
        "constraint",
        "SLURM constraint, e.g. a GPU type (blank: none)",
        "YOUR-GPU-TYPE",
        flag="constraint",
        pattern=re.compile(r"[A-Za-z0-9_.,&|()\[\]*:+-]+"),
        per_run=True,
    ),
    SiteSetting(
        "mail_user",
        "E-mail for job notices (blank: none)",
        "you@example.org",
        flag="mail-user",
        pattern=re.compile(r"[A-Za-z0-9_.+-]+@[A-Za-z0-9.-]+|[A-Za-z0-9_.-]+"),
        per_run=True,
    ),
    SiteSetting(
        "mail_type",
        "When to mail, e.g. FAIL or END,FAIL (blank: never)",
        "END,FAIL",
        flag="mail-type",
        pattern=re.compile(r"[A-Z_]+(,[A-Z_]+)*"),
        per_run=True,
    ),
    SiteSetting("time", "Default time limit, e.g. 02:00:00 (blank: per model)", "02:00:00", pattern=TIME),
    SiteSetting(
        "evaluation_time",
        "Default time limit of evaluation jobs, e.g. 02:00:00 (blank: per model)",
        "02:00:00",
        pattern=TIME,
    ),
    SiteSetting(
        "max_time",
        "Longest time limit a job may ask for here, e.g. 2-00:00:00 (blank: the partition's, as SLURM says)",
        "2-00:00:00",
        pattern=TIME,
    ),
    SiteSetting(
        "offline",
        "Jobs run offline: models and data come from local folders, never from the model hub",
        True,
        per_run=True,
        switch=True,
    ),
    SiteSetting(
        "environment",
        "Shell lines that set up the job environment (module load, conda activate…)",
        ["module load YOUR-MODULES", "source /path/to/venv/bin/activate"],
        per_run=True,
        lines=True,
    ),
)

BY_FIELD = {setting.field: setting for setting in SITE_SETTINGS}
JOB_OPTIONS = tuple(setting for setting in SITE_SETTINGS if setting.flag is not None)
"""The settings every job passes to SLURM as ``#SBATCH`` options, in table order."""


def check_sbatch_value(pattern: re.Pattern[str], value: str) -> str:
    """``value`` when SLURM can read it in an ``#SBATCH`` line, else ``ValueError`` saying why not."""
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} cannot go in an #SBATCH line — SLURM reads it without a shell")
    return value


def check_lines(lines: list[str]) -> list[str]:
    """Shell lines, each on one line: a line break would start a command nobody wrote."""
    for line in lines:
        if "\n" in line or "\x00" in line:
            raise ValueError(f"{line!r} spans lines — give each shell line as its own list entry")
    return lines


def _check(cls: type, value: Any, info: Any) -> Any:
    setting = BY_FIELD[info.field_name]
    if value is None:
        return None
    if setting.lines:
        return check_lines(value)
    return check_sbatch_value(setting.pattern, value) if setting.pattern is not None else value


def _model(name: str, doc: str, settings: list[SiteSetting], *, every_key_optional: bool) -> type[BaseModel]:
    """A pydantic model with one field per setting. In the profile and ``site:`` every key may be left out
    (None: not set here); in a run's setup the list of shell lines is always there, empty when none."""
    fields: dict[str, Any] = {}
    for setting in settings:
        if setting.switch:
            default = None if every_key_optional else setting.example
            fields[setting.field] = (
                bool | None if every_key_optional else bool,
                Field(default=default, description=setting.question),
            )
        elif setting.lines and not every_key_optional:
            fields[setting.field] = (list[str], Field(default_factory=list, description=setting.question))
        elif setting.lines:
            fields[setting.field] = (list[str] | None, Field(default=None, description=setting.question))
        else:
            fields[setting.field] = (str | None, Field(default=None, description=setting.question))
    checked = [setting.field for setting in settings if setting.pattern is not None or setting.lines]
    model = create_model(
        name,
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=doc,
        __validators__={"check_values": field_validator(*checked)(_check)},
        **fields,
    )
    model.__module__ = __name__
    return model


Site = _model(
    "Site",
    "Where things are on this cluster and how jobs run: the user profile's keys, overridable per plan.",
    list(SITE_SETTINGS),
    every_key_optional=True,
)
SlurmSetup = _model(
    "SlurmSetup",
    "The SLURM options of a run's jobs (from the profile and the plan's site:), editable in its setup.",
    [setting for setting in SITE_SETTINGS if setting.per_run],
    every_key_optional=False,
)


def merge_site(profile: Any, plan: Any) -> Any:
    """The profile's site settings with the plan's overrides on top (a plan value wins when set)."""
    return profile.model_copy(update=plan.model_dump(exclude_none=True))


def job_options(slurm: Any) -> dict[str, str]:
    """A run's ``#SBATCH`` options from its ``slurm:`` section: flag → value, for the settings it sets."""
    return {setting.flag: getattr(slurm, setting.field) for setting in JOB_OPTIONS if getattr(slurm, setting.field)}

"""Shell completion of what only expset knows: set folders, a set's run names, bundled examples, models.

The shell runs ``expset`` for every Tab, so each function answers from the file system alone, reading
folder listings and never a YAML file: a set is a folder holding ``expset.yaml``, a run a folder of a
set holding ``run.yaml``. Nothing here is imported unless the app is built.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

PLAN_FILE = "expset.yaml"
RUN_FILE = "run.yaml"
LISTED = 200
"""At most this many candidates: a scratch folder may hold thousands of entries."""


def set_folders(incomplete: str) -> list[str]:
    """Sets whose path starts with ``incomplete``, then other folders (ending in ``/``) to go into."""
    folder, slash, start = incomplete.rpartition("/")
    prefix = folder + slash  # kept as typed: ~ and $SCRATCH stay for the shell
    sets, others = [], []
    for entry in _entries(Path(os.path.expandvars(os.path.expanduser(prefix)) or ".")):
        if not entry.name.startswith(start) or (entry.name.startswith(".") and not start.startswith(".")):
            continue
        if not entry.is_dir():
            continue
        if os.path.exists(os.path.join(entry.path, PLAN_FILE)):
            sets.append(prefix + entry.name)
        else:
            others.append(f"{prefix}{entry.name}/")
    return sorted(sets)[:LISTED] + sorted(others)[:LISTED]


def run_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """The runs of the set named earlier on the command line, for ``which RUN`` and ``--runs a,b,…``."""
    set_dir = ctx.params.get("set_dir") or _set_on_command_line()
    if not set_dir:
        return []
    done, _, start = incomplete.rpartition(",")
    chosen = set(done.split(",")) if done else set()
    lead = f"{done}," if done else ""
    names = [
        entry.name
        for entry in _entries(Path(set_dir))
        if entry.name.startswith(start)
        and entry.name not in chosen
        and entry.is_dir()
        and os.path.exists(os.path.join(entry.path, RUN_FILE))
    ]
    return [lead + name for name in sorted(names)[:LISTED]]


def example_names(incomplete: str) -> list[str]:
    """The bundled example plans."""
    from expset.plan_file import example_names as bundled

    return [name for name in bundled() if name.startswith(incomplete)]


def parameter_values(incomplete: str) -> list[str]:
    """``model=`` followed by the models expset knows; other parameters are the researcher's to type."""
    key, equals, start = incomplete.partition("=")
    if not equals or key != "model":
        return []
    from expset.core.models import MODELS

    done, _, last = start.rpartition(",")
    lead = f"model={done}," if done else "model="
    return [lead + name for name in MODELS if name.startswith(last)]


def _set_on_command_line() -> str | None:
    """The first word of the line being completed that names a set: an option still waiting for its value
    (``--runs <Tab>``) stops the command line from being parsed, so the set is looked for in the words."""
    import shlex

    try:
        words = shlex.split(
            os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS", "")
        )  # bash; zsh, fish
    except ValueError:
        return None
    return next((word for word in words[1:] if os.path.isfile(os.path.join(word, PLAN_FILE))), None)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError:
        return []

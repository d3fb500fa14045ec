"""The training data a plan names: found on disk, and counted.

A dataset is a path, or a name under the profile's data folder with ``.json``/``.jsonl`` implied. It is
looked for when the plan is read (so that a missing file is refused before the set exists, where the
data folder is known) and again at scaffold, on the cluster where the jobs run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from expset.core.site_settings import Site
from expset.errors import SetupError
from expset.plan_file import DATA_SUFFIXES


def data_location(dataset: str, site: Site) -> Path | None:
    """Where ``dataset`` would be: itself when absolute, else under the data folder; None when it is
    relative and no data folder is set (it cannot be looked for yet)."""
    path = Path(os.path.expandvars(dataset)).expanduser()
    if path.is_absolute():
        return path
    return Path(site.data_folder).expanduser() / path if site.data_folder else None


def resolve_data(dataset: str, site: Site, where: str) -> str:
    """The data file ``dataset`` names, absolute; a ``SetupError`` saying ``where`` (``run X: dataset``,
    ``fixed.dataset``) when there is none."""
    if not dataset:
        raise SetupError(f"{where}: none given", hint="add dataset to vary or fixed: a JSON or JSONL file")
    path = data_location(dataset, site)
    if path is None:
        raise SetupError(
            f"{where} {dataset!r} is a relative path and no data folder is set",
            hint="give an absolute path, set site.data_folder in the plan, or run `expset profile init`",
        )
    candidates = [path] + [path.with_name(path.name + suffix) for suffix in DATA_SUFFIXES]
    found = next((candidate for candidate in candidates if candidate.is_file()), None)
    if found is None:
        raise SetupError(f"{where} {dataset!r}: no file at {path}", hint="check the path and data folder")
    if found.suffix not in DATA_SUFFIXES:
        raise SetupError(f"{where} {found} is not JSON or JSONL", hint="convert it to .json or .jsonl for torchtune")
    return str(found.absolute())


def count_samples(path: str) -> int | None:
    """The number of records in a JSONL file (its non-blank lines) or a JSON file holding a list; None
    when the file cannot be read that way (torchtune will say why when it loads it)."""
    try:
        if path.endswith(".jsonl"):
            with open(path, "rb") as lines:
                return sum(1 for line in lines if line.strip())
        with open(path, encoding="utf-8") as file:
            content = json.load(file)
    except (OSError, ValueError):
        return None
    return len(content) if isinstance(content, list) else None


RECORDS_LOOKED_AT = 5
"""The first records of each data file whose fields are checked."""


@dataclass
class Records:
    """A data file's number of records and its first few, as ``read_records`` found them."""

    count: int
    first: list[object]


def read_records(path: str) -> tuple[Records, str | None]:
    """The number of records in a JSON or JSONL data file and its first few, or why it cannot be read."""
    empty = Records(0, [])
    try:
        if path.endswith(".jsonl") or _holds_lines(path):
            first: list[object] = []
            count = 0
            with open(path, "rb") as lines:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    count += 1
                    if len(first) < RECORDS_LOOKED_AT:
                        try:
                            first.append(json.loads(line))
                        except ValueError as error:
                            return empty, f"line {number} is not JSON ({error})"
            return Records(count, first), None if count else "no records"
        with open(path, encoding="utf-8") as file:
            content = json.load(file)
    except OSError as error:
        return empty, f"cannot be read ({error.strerror})"
    except UnicodeDecodeError:
        return empty, "not UTF-8 text"
    except ValueError as error:
        return empty, f"not JSON ({error})"
    if not isinstance(content, list):
        return empty, "a JSON file of training data must hold a list of records"
    return Records(len(content), content[:RECORDS_LOOKED_AT]), None if content else "no records"


def _holds_lines(path: str) -> bool:
    """Whether a ``.json`` file holds JSON Lines (one object per line), as Hugging Face datasets reads them."""
    try:
        with open(path, "rb") as file:
            start = file.read(1 << 16).lstrip()
    except OSError:
        return False
    first, _, rest = start.partition(b"\n")
    return first.startswith(b"{") and rest.lstrip().startswith(b"{")

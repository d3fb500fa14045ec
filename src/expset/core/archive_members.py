"""What goes into a set's archive, as plain data: which files are checkpoints, which of them a
``--checkpoints`` choice keeps, the manifest that lists every archived file with its size and SHA-256,
and which member names an archive may hold at all.

Nothing here reads the disk: ``expset.archive`` walks the set and hashes the files, and asks this module
what to keep; ``expset.restore`` asks it whether a member's name is safe before writing anything.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from expset.core.layout import CANARY_DIR, EVALUATIONS_DIR, LOG_DIR, REPORT_DIR, STATE_DIR, parse_epoch_dir
from expset.errors import ArchiveError

MANIFEST_MEMBER = f"{STATE_DIR}/archive-manifest.json"
"""The manifest's place, relative to the set: the archive's last member (it is written once every file was
read, so each file is read once), kept in a restored set as the record of what its archive held."""
MANIFEST_FORMAT = "expset-archive"
MANIFEST_VERSION = 1
RECIPE_STATE_DIR = "recipe_state"
"""torchtune's optimizer and progress state, for resuming a fine-tune: kept with ``--checkpoints all`` only."""
SUFFIX = ".tar.gz"
HEADER_PREFIX = "expset."
"""The archive's PAX global header holds ``expset.set`` and ``expset.runs``: read before any member."""


class Checkpoints(str, Enum):
    """Which checkpoint folders of each run go into an archive."""

    NONE = "none"
    LAST = "last"  # each run's (and canary's) highest epoch
    EVALUATED = "evaluated"  # the epochs with a successful evaluation record
    ALL = "all"  # every epoch, and recipe_state/


@dataclass(frozen=True)
class Checkpoint:
    """Where a checkpoint file belongs: its owner (a run, or ``<run>/canary``), its folder relative to the set,
    and its epoch (None for ``recipe_state/``)."""

    owner: str
    folder: str
    epoch: int | None


def checkpoint_of(path: str, run_names: frozenset[str] | set[str]) -> Checkpoint | None:
    """The checkpoint ``path`` (relative to the set, ``/``-separated) belongs to; None when it is not in one.

    Checkpoints are ``<run>/epoch_N/…`` and ``<run>/recipe_state/…``, and the same inside ``<run>/canary/``.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] not in run_names:
        return None
    owner_parts = parts[:1]
    rest = parts[1:]
    if rest[0] == CANARY_DIR and len(rest) >= 3:
        owner_parts, rest = parts[:2], parts[2:]
    if rest[0] == RECIPE_STATE_DIR:
        epoch = None
    else:
        epoch = parse_epoch_dir(rest[0])
        if epoch is None:
            return None
    owner = "/".join(owner_parts)
    return Checkpoint(owner, f"{owner}/{rest[0]}", epoch)


def is_adapter_file(path: str) -> bool:
    """Whether ``path`` is a LoRA adapter's file (weights or config), as torchtune saves them."""
    name = posixpath.basename(path)
    return name.startswith("adapter_model.") or name == "adapter_config.json"


@dataclass
class LeftOut:
    """A checkpoint folder an archive leaves out, with its bytes and how many of them are the LoRA adapter's."""

    folder: str
    files: int = 0
    size: int = 0
    adapter_size: int = 0


@dataclass
class Selection:
    """The files an archive holds and the checkpoint folders it leaves out."""

    kept: list[str] = field(default_factory=list)
    left_out: dict[str, LeftOut] = field(default_factory=dict)  # folder → what it holds

    @property
    def left_out_size(self) -> int:
        return sum(item.size for item in self.left_out.values())

    @property
    def left_out_adapter_size(self) -> int:
        return sum(item.adapter_size for item in self.left_out.values())


def select_files(
    files: Iterable[tuple[str, int]],
    run_names: frozenset[str] | set[str],
    choice: Checkpoints,
    evaluated: Mapping[str, set[int]],
) -> Selection:
    """Keep every file that is not a checkpoint, and the checkpoints ``choice`` names.

    ``files`` are (path relative to the set, size); ``evaluated`` maps an owner (a run, or ``<run>/canary``)
    to its epochs with a successful evaluation. ``last`` keeps each owner's highest epoch on disk.
    """
    files = list(files)
    places = {path: checkpoint_of(path, run_names) for path, _ in files}
    highest: dict[str, int] = {}
    for place in places.values():
        if place is not None and place.epoch is not None:
            highest[place.owner] = max(highest.get(place.owner, place.epoch), place.epoch)
    selection = Selection()
    for path, size in files:
        place = places[path]
        if place is None or _keeps(choice, place, highest, evaluated):
            selection.kept.append(path)
            continue
        item = selection.left_out.setdefault(place.folder, LeftOut(place.folder))
        item.files += 1
        item.size += size
        if is_adapter_file(path):
            item.adapter_size += size
    return selection


def _keeps(
    choice: Checkpoints, place: Checkpoint, highest: Mapping[str, int], evaluated: Mapping[str, set[int]]
) -> bool:
    if choice is Checkpoints.ALL:
        return True
    if choice is Checkpoints.NONE or place.epoch is None:
        return False
    if choice is Checkpoints.LAST:
        return highest.get(place.owner) == place.epoch
    return place.epoch in evaluated.get(place.owner, set())


def kind_of(path: str, run_names: frozenset[str] | set[str]) -> str:
    """What a file is, for the preview: a checkpoint, an evaluation log, a log, the report, a record, or a
    run's configs and scripts."""
    if checkpoint_of(path, run_names) is not None:
        return "checkpoints"
    parts = path.split("/")
    if parts[0] == REPORT_DIR:
        return "report"
    if parts[0] == STATE_DIR or len(parts) == 1:
        return "set records and plans"
    inner = parts[2:] if len(parts) > 2 and parts[1] == CANARY_DIR else parts[1:]
    if inner and inner[0] == EVALUATIONS_DIR and not path.endswith(".slurm"):
        return "evaluation logs and records"
    if inner and inner[0] == LOG_DIR:
        return "training and SLURM logs"
    return "configs and scripts"


@dataclass(frozen=True)
class ManifestFile:
    """One archived file: its path relative to the set, size in bytes and SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """Every file and folder an archive holds, and what it was made of."""

    set_name: str
    runs: tuple[str, ...] | None  # a per-run archive's runs; None for the whole set
    checkpoints: Checkpoints
    files: tuple[ManifestFile, ...]
    folders: tuple[str, ...]
    left_out: tuple[LeftOut, ...] = ()
    created: str = ""
    version: str = ""

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)

    def to_data(self) -> dict[str, Any]:
        """The manifest as the JSON document stored in the archive."""
        return {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "set": self.set_name,
            "runs": list(self.runs) if self.runs is not None else None,
            "checkpoints": self.checkpoints.value,
            "created": self.created,
            "expset_version": self.version,
            "folders": list(self.folders),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
            "left_out": [
                {"folder": item.folder, "files": item.files, "size": item.size, "adapter_size": item.adapter_size}
                for item in self.left_out
            ],
        }


def parse_manifest(data: Any) -> Manifest:
    """The manifest in ``data`` (its JSON, parsed); ``ArchiveError`` when it is not one this version reads."""
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ArchiveError("the archive's manifest is not an expset manifest")
    if data.get("format_version") != MANIFEST_VERSION:
        raise ArchiveError(
            f"the archive's manifest is of format version {data.get('format_version')!r}; this expset reads "
            f"version {MANIFEST_VERSION}",
            hint="restore it with the expset version that wrote it",
        )
    try:
        runs = data["runs"]
        files = tuple(ManifestFile(str(item["path"]), int(item["size"]), str(item["sha256"])) for item in data["files"])
        left_out = tuple(
            LeftOut(str(i["folder"]), int(i["files"]), int(i["size"]), int(i["adapter_size"]))
            for i in data.get("left_out", [])
        )
        return Manifest(
            set_name=str(data["set"]),
            runs=tuple(str(run) for run in runs) if runs is not None else None,
            checkpoints=Checkpoints(data["checkpoints"]),
            files=files,
            folders=tuple(str(folder) for folder in data["folders"]),
            left_out=left_out,
            created=str(data.get("created", "")),
            version=str(data.get("expset_version", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ArchiveError(f"the archive's manifest is damaged: {error}") from None


def member_problem(name: str, set_name: str) -> str | None:
    """Why an archive member called ``name`` may not be written into a restored set called ``set_name``;
    None when it may. Refused: absolute paths, ``..``, empty or ``.`` parts, backslashes and NUL, and
    anything outside the set's folder."""
    if not name or "\x00" in name or "\\" in name:
        return "is not a plain relative path"
    if name.startswith("/"):
        return "is an absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "climbs out with '..'"
    if any(part in ("", ".") for part in parts):
        return "is not a plain relative path"
    if parts[0] != set_name:
        return f"is outside the set's folder {set_name}/"
    return None


def archive_name(set_name: str, run: str | None = None) -> str:
    """The archive's file name: ``<set>.tar.gz``, or ``<set>.<run>.tar.gz`` for one run."""
    return f"{set_name}{SUFFIX}" if run is None else f"{set_name}.{run}{SUFFIX}"


def human_size(size: int) -> str:
    """``24 MB``, ``1.3 GB``, ``512 bytes``: decimal units, as ``du --si`` prints them."""
    if size < 1000:
        return f"{size} bytes"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)):
        if size < scale * 1000 or unit == "TB":
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")

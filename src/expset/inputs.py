"""The data and task files a set's runs read, recorded by content so that a set moved to another cluster is
known to read the same bytes there.

The first ``scaffold`` records, for each input, the plan's name for it (``dataset <value>``, ``validation
<file>``, ``task <evaluation>``), the path it resolved to, its size and SHA-256 (``.expset/inputs.json``).
That first recording stays the reference: a later scaffold — on another cluster, with another profile and
data folder — only adds inputs not recorded yet, and ``check`` (so ``submit``) reports every input whose file
now differs from the recorded one, in one line each. A deliberate change is accepted with
``expset check --accept-inputs``, which records the files found now.

Hashing gigabytes of data takes seconds, so digests are cached in ``.expset/input_hashes.json`` by path,
size and modification time: an unchanged file is read once, however often scaffold and check run. The
file's device and inode are part of the key too, so a cache copied with the set to another cluster (where
the same path may hold another copy, its modification time kept by ``rsync -a``) is never trusted there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expset.core.layout import INPUT_HASHES, INPUTS_RECORD
from expset.core.naming import ExperimentSet, Run
from expset.core.run_setup import RunSetup
from expset.errors import ExpsetError


@dataclass(frozen=True)
class FileDigest:
    """A file's path, size and SHA-256."""

    path: str
    size: int
    sha256: str

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def run_inputs(experiment_set: ExperimentSet, run: Run, setup: RunSetup) -> set[tuple[str, str]]:
    """The files ``run`` reads, as (the plan's name for it, the path its setup reads it from): its dataset
    (``dataset <value as the plan names it>``), its validation file, and each evaluation's task file."""
    found: dict[str, str] = {}
    plan = experiment_set.plan
    if not setup.evaluated_only:
        dataset = {**plan.fixed, **run.varied}.get("dataset", "")
        found[f"dataset {dataset}"] = setup.data.path
        if plan.validation is not None and plan.validation.file is not None and setup.validation is not None:
            found[f"validation {plan.validation.file}"] = setup.validation.path
    for evaluation in setup.evaluations:
        found[f"task {evaluation.name}"] = evaluation.task.rpartition("@")[0]
    return set(found.items())


class DigestCache:
    """SHA-256 of files by (path, size, modification time), kept in the set; see the module's docstring."""

    def __init__(self, set_dir: Path) -> None:
        self.set_dir = set_dir
        self.entries = _read_json(set_dir / INPUT_HASHES)
        self.changed = False

    def digest(self, path: str) -> FileDigest:
        """The file's digest, from the cache when its size and modification time are unchanged; ``OSError``
        when it cannot be read."""
        found = os.stat(path)
        stamp = {"size": found.st_size, "mtime_ns": found.st_mtime_ns, "inode": [found.st_dev, found.st_ino]}
        cached = self.entries.get(path)
        if isinstance(cached, dict) and isinstance(cached.get("sha256"), str) and cached | stamp == cached:
            return FileDigest(path, found.st_size, cached["sha256"])
        sha256 = _sha256(path)
        self.entries[path] = {**stamp, "sha256": sha256}
        self.changed = True
        return FileDigest(path, found.st_size, sha256)

    def text(self) -> str:
        """The cache file's text."""
        return json.dumps(self.entries, indent=1, sort_keys=True) + "\n"

    def save(self) -> None:
        """Write the cache if it changed; a set that cannot be written to only loses the cache."""
        if not self.changed:
            return
        from expset.fs.inside import write_file

        with contextlib.suppress(OSError, ExpsetError):
            write_file(self.set_dir, INPUT_HASHES, self.text())
        self.changed = False


def read_inputs(set_dir: Path) -> dict[str, dict[str, Any]]:
    """The recorded inputs: name → {path, size, sha256}; none when nothing was recorded."""
    data = _read_json(set_dir / INPUTS_RECORD)
    return {
        name: entry
        for name, entry in data.items()
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)
    }


def render_inputs(recorded: dict[str, dict[str, Any]]) -> str:
    """The text of ``.expset/inputs.json``."""
    return json.dumps(dict(sorted(recorded.items())), indent=1) + "\n"


Found = list[tuple[str, FileDigest]]
"""Inputs found now: (name, digest) pairs, a name more than once when runs read it from different paths
(a setup whose data path was edited)."""


def digests(found: set[tuple[str, str]], cache: DigestCache) -> tuple[Found, list[str]]:
    """The digest of each (name, path) in ``found``, and one line for each file that cannot be read."""
    done: Found = []
    unreadable = []
    for name, path in sorted(found):
        try:
            done.append((name, cache.digest(path)))
        except OSError as error:
            unreadable.append(f"{name}: {path} cannot be read ({error.strerror}), so it was not compared")
    return done, unreadable


def with_new_inputs(recorded: dict[str, dict[str, Any]], found: Found) -> dict[str, dict[str, Any]]:
    """``recorded`` with the inputs it does not hold yet added: a recorded input is never replaced here."""
    added = dict(recorded)
    for name, digest in found:
        added.setdefault(name, digest.to_data())
    return added


def differences(recorded: dict[str, dict[str, Any]], found: Found, accept: str) -> list[str]:
    """One line per input whose file is not byte-identical to the one recorded; ``accept`` is the command that
    records the change."""
    lines = []
    for name, digest in found:
        entry = recorded.get(name)
        if entry is None or (entry["size"], entry["sha256"]) == (digest.size, digest.sha256):
            continue
        was = entry.get("path")
        where = "" if was == digest.path else f" ({was})"
        lines.append(
            f"{name}: {digest.path} differs from the file the set was scaffolded with{where}: sha256 "
            f"{digest.sha256[:12]}…, {digest.size:,} bytes, recorded {entry['sha256'][:12]}…, {entry['size']:,} "
            f"bytes; if the change is deliberate, accept it with `{accept}`"
        )
    return lines


def accept_inputs(set_dir: Path, found: Found) -> list[str]:
    """Record the files found now as the set's inputs, replacing what was recorded for them; one line for
    each input whose record changed."""
    from expset.fs.inside import write_file

    recorded = read_inputs(set_dir)
    now = {name: digest for name, digest in found}
    changed = [
        f"{name}: recorded {digest.path} (sha256 {digest.sha256[:12]}…)"
        for name, digest in sorted(now.items())
        if recorded.get(name) != digest.to_data()
    ]
    if changed:
        write_file(set_dir, INPUTS_RECORD, render_inputs({**recorded, **{n: d.to_data() for n, d in now.items()}}))
    return changed


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _sha256(path: str) -> str:
    """The SHA-256 of the file at ``path``, read in large chunks (``hashlib.file_digest`` is Python 3.11's)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()

"""The job ledger of a set (``.expset/jobs.jsonl``): which job ran which step of which run.

Append-only JSON lines. A batch of entries is written with one ``write`` on a file opened for
appending and flushed to disk, so a crash leaves at most a torn last line, which readers skip. The
newest entry of a (run, step) is its current job.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LEDGER = Path(".expset") / "jobs.jsonl"
FINETUNE = "finetune"


def evaluation_step(task: str, epoch: int) -> str:
    return f"evaluate/{task}/epoch_{epoch}"


@dataclass(frozen=True)
class Entry:
    run: str
    step: str  # "finetune" or "evaluate/<task>/epoch_<N>"
    job_id: str
    time: str  # ISO 8601, UTC
    script: str  # relative to the set folder
    script_sha256: str
    after: str | None = None  # the job this one waits for (afterok)


def append(set_dir: Path, entries: list[Entry]) -> None:
    if not entries:
        return
    path = set_dir / LEDGER
    path.parent.mkdir(exist_ok=True)
    text = "".join(json.dumps(asdict(entry), sort_keys=True) + "\n" for entry in entries)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, text.encode("utf-8"))
        os.fsync(handle)
    finally:
        os.close(handle)


def read(set_dir: Path) -> list[Entry]:
    """Every complete entry, oldest first."""
    try:
        lines = (set_dir / LEDGER).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(Entry(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line torn by a crash
    return entries


def current(entries: list[Entry]) -> dict[tuple[str, str], Entry]:
    """The newest entry of every (run, step)."""
    return {(entry.run, entry.step): entry for entry in entries}

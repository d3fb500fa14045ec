"""The record of what ``expset clean`` removed (``.expset/cleaned.jsonl``): written by clean, read by ``status``
(cleaned epochs are not missing ones), ``check`` and ``submit`` (no evaluation of a removed checkpoint)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

from expset.core.layout import CLEANED_RECORD
from expset.errors import RecordError


def record_removal(
    set_dir: Path,
    run: str,
    folder: str,
    epoch: int,
    files: tuple[str, ...],
    size: int,
    token: str,
    checkpoints: str,
) -> None:
    """Append one line to the clean record, flushed to disk: ``folder`` of ``run`` (``epoch_1``,
    ``canary/epoch_0``) went, with ``files`` and their bytes; ``token`` names its hidden folder."""
    from expset import ledger
    from expset.fs.inside import open_file

    line = {
        "time": ledger.now(),
        "user": getpass.getuser(),
        "run": run,
        "folder": folder,
        "epoch": epoch,
        "files": list(files),
        "bytes": size,
        "checkpoints": checkpoints,
        "token": token,
    }
    data = (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")
    try:
        handle = open_file(set_dir, CLEANED_RECORD, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    except OSError as error:
        raise RecordError(f"{set_dir / CLEANED_RECORD}: cannot write the clean record: {error.strerror}") from None
    try:
        size_now = os.fstat(handle).st_size
        if size_now and os.pread(handle, 1, size_now - 1) != b"\n":
            data = b"\n" + data  # a torn last line: never glue onto it
        os.write(handle, data)
        os.fsync(handle)
    except OSError as error:
        raise RecordError(f"{set_dir / CLEANED_RECORD}: cannot record a removal: {error.strerror}") from None
    finally:
        os.close(handle)


def read_cleaned(set_dir: Path) -> list[dict[str, Any]]:
    """Every line of the clean record, oldest first; damaged lines left out; none when there is no record."""
    try:
        text = (set_dir / CLEANED_RECORD).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and isinstance(line.get("run"), str) and isinstance(line.get("folder"), str):
            lines.append(line)
    return lines


def cleaned_folders(set_dir: Path) -> dict[str, set[str]]:
    """Per run, the checkpoint folders clean removed (``epoch_0``, ``canary/epoch_1``)."""
    found: dict[str, set[str]] = {}
    for line in read_cleaned(set_dir):
        found.setdefault(line["run"], set()).add(line["folder"])
    return found

"""The job ledger of a set (``.expset/jobs.jsonl``): which job ran which step of which run.

Append-only JSON lines, each an event. ``submit`` writes an *intent* (run, step, a random token)
before it calls ``sbatch``, then *submitted* with the job id SLURM gave. The token also goes to
SLURM, in the job's comment, so a job whose ``submitted`` line was never written (the process was
killed between ``sbatch`` returning and the write) is found again in ``squeue`` instead of being
submitted twice. *abandoned* closes an intent that never became a job (``sbatch`` refused it);
*adopted* records a job found in SLURM or on disk that the ledger had lost.

Each append is one ``write`` on a file opened for appending, flushed to disk, and starts on a
fresh line, so a crash can tear only the line being written and never glues the next one onto it.
A line that cannot be read is reported by number, never skipped silently: it may hide a job.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from expset.core.layout import LEDGER_FILE, is_step
from expset.errors import RecordError

LEDGER = Path(LEDGER_FILE)


@dataclass(frozen=True)
class Job:
    """One attempt at one step of one run. ``job_id`` is None while an intent is unresolved."""

    run: str
    step: str  # "finetune" or "evaluate/<task>/epoch_<N>"
    token: str
    job_id: str | None = None
    time: str = ""  # ISO 8601, UTC, of the intent
    script: str = ""  # relative to the set folder
    script_sha256: str = ""
    after: str | None = None  # the job this one waits for (afterok): its run's fine-tune
    held_by: str | None = None  # the canary jobs it is held by (afterok), id:id:…, when it waits for nothing else
    line: int = field(default=0, compare=False)  # its intent's ledger line: what is recorded later came after it


@dataclass
class Ledger:
    """The ledger folded into jobs, oldest intent first, and the lines that could not be read."""

    jobs: list[Job] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # "FILE line N: why"
    tokens: set[str] = field(default_factory=set)  # of every intent ever written, abandoned ones too
    notes: list[dict[str, Any]] = field(default_factory=list)  # what was done to the set's jobs: fixes, cancels
    lines: int = 0  # how many lines it had: a later read's lines beyond them were written since

    def current(self) -> dict[tuple[str, str], Job]:
        """The newest job of every (run, step) that SLURM accepted."""
        return {(job.run, job.step): job for job in self.jobs if job.job_id is not None}

    def unresolved(self) -> list[Job]:
        """Intents with neither a job id nor an abandonment: ``sbatch`` may or may not have run."""
        return [job for job in self.jobs if job.job_id is None]

    def known_job_ids(self) -> set[str]:
        """Every SLURM job id the ledger holds."""
        return {job.job_id for job in self.jobs if job.job_id is not None}


def new_token() -> str:
    """A fresh token that names one submission attempt, in the ledger and in the job's comment."""
    return secrets.token_hex(8)


def now() -> str:
    """The current time, as the ledger writes it (UTC, ISO 8601)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def intent(job: Job) -> dict[str, Any]:
    """The line written before ``sbatch``: the job about to be submitted and its script's digest."""
    return {
        "event": "intent",
        "token": job.token,
        "run": job.run,
        "step": job.step,
        "time": job.time,
        "script": job.script,
        "script_sha256": job.script_sha256,
    }


def submitted(job: Job, job_id: str, after: str | None, held_by: str | None = None) -> dict[str, Any]:
    """SLURM accepted ``job``; its run and step are repeated, so the line stands even if its intent is lost."""
    return {
        "event": "submitted",
        "token": job.token,
        "run": job.run,
        "step": job.step,
        "job_id": job_id,
        "after": after,
        **({"held_by": held_by} if held_by else {}),
        "time": now(),
    }


def abandoned(token: str, reason: str) -> dict[str, Any]:
    """The line that withdraws an intent that never became a job (SLURM refused it)."""
    return {"event": "abandoned", "token": token, "reason": reason, "time": now()}


def adopted(job: Job, source: str) -> dict[str, Any]:
    """The line for a job found in SLURM or on disk whose submission line was lost."""
    return {
        "event": "adopted",
        "token": job.token,
        "run": job.run,
        "step": job.step,
        "job_id": job.job_id,
        "source": source,
        "time": now(),
    }


def fixed(run: str, fix: str, changes: list[str]) -> dict[str, Any]:
    """The line for a failed run's setup changed by ``submit --fix`` before it goes again."""
    return {"event": "fixed", "token": new_token(), "run": run, "fix": fix, "changes": changes, "time": now()}


def cancelled(run: str, step: str, job_id: str) -> dict[str, Any]:
    """The line for a job ``expset cancel`` asked SLURM to cancel."""
    return {"event": "cancelled", "token": new_token(), "run": run, "step": step, "job_id": job_id, "time": now()}


def append(set_dir: Path, events: list[dict[str, Any]]) -> None:
    """Append ``events``, flushed to disk, starting on a fresh line even after a torn one."""
    if not events:
        return
    from expset.fs.inside import open_file

    path = set_dir / LEDGER
    text = "".join(json.dumps(event, sort_keys=True) + "\n" for event in events)
    try:
        handle = open_file(set_dir, LEDGER_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    except OSError as error:
        raise RecordError(
            f"{path}: cannot write the job ledger: {error.strerror}",
            hint="it must be a plain file inside the set; move whatever is there away",
        ) from None
    try:
        size = os.fstat(handle).st_size
        if size and os.pread(handle, 1, size - 1) != b"\n":
            text = "\n" + text  # the last line was torn: never glue this append onto it
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(handle, data) :]
        os.fsync(handle)
    except OSError as error:
        raise RecordError(
            f"{path}: cannot record {len(events)} job event(s): {error.strerror}",
            hint="free space in the set's file system, then run the same command again: it reconciles with SLURM",
        ) from None
    finally:
        os.close(handle)


def read(set_dir: Path) -> Ledger:
    """The ledger of ``set_dir``; lines that cannot be read are listed in ``damaged``."""
    from expset.fs.inside import open_file

    path = set_dir / LEDGER
    try:
        handle = open_file(set_dir, LEDGER_FILE, os.O_RDONLY, create=False)
    except FileNotFoundError:
        return Ledger()
    except OSError as error:
        raise RecordError(
            f"{path}: cannot read the job ledger: {error.strerror}",
            hint="it must be a plain file inside the set; move whatever is there away",
        ) from None
    try:
        with os.fdopen(handle, "rb") as file:
            content = file.read()
    except IsADirectoryError:
        raise RecordError(
            f"{path} is a folder, not the job ledger", hint="move it away; the ledger is a file expset writes"
        ) from None
    return fold(content, str(path))


def fold(content: bytes, where: str) -> Ledger:
    """Ledger lines → jobs, in the order of their intents."""
    ledger = Ledger()
    slots: list[Job | None] = []  # one per intent, None once abandoned
    by_token: dict[str, int] = {}
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            event = _event(raw)
        except ValueError as error:
            ledger.damaged.append(f"{where} line {number}: {error}")
            continue
        kind, token = event["event"], event["token"]
        if kind in NOTES:
            ledger.notes.append({**event, "line": number})
            continue
        orphan = kind == "submitted" and token not in by_token and "run" in event and "step" in event
        if kind == "intent" or (kind == "adopted" and token not in by_token) or orphan:
            by_token[token] = len(slots)
            slots.append(
                Job(
                    run=event["run"],
                    step=event["step"],
                    token=token,
                    job_id=event.get("job_id"),
                    time=event.get("time", ""),
                    script=event.get("script", ""),
                    script_sha256=event.get("script_sha256", ""),
                    after=event.get("after"),
                    line=number,
                )
            )
        elif token not in by_token or slots[by_token[token]] is None:
            ledger.damaged.append(f"{where} line {number}: {kind} of a job whose intent is missing")
        elif kind == "abandoned":
            slots[by_token[token]] = None
        else:  # submitted, or adopted for an intent already read
            index = by_token[token]
            slots[index] = replace(  # type: ignore[type-var]
                slots[index], job_id=event["job_id"], after=event.get("after"), held_by=event.get("held_by")
            )
    ledger.jobs = [job for job in slots if job is not None]
    ledger.lines = content.count(b"\n")
    ledger.tokens = set(by_token)
    return ledger


_JOB_ID = re.compile(r"[A-Za-z0-9]+(?:_[0-9]+)?")
"""A SLURM job id, or an array task's: ``1234_5``."""


def _is_job_id(text: str) -> bool:
    return (text.isascii() and text.isalnum()) or _JOB_ID.fullmatch(text) is not None


NOTES = ("fixed", "cancelled")
"""Events that record what was done to a set's jobs; they submit nothing and change no job's place."""

_TEXT_FIELDS = ("run", "step", "token", "time", "script", "script_sha256", "reason", "source")


def _event(raw: bytes) -> dict[str, Any]:
    """One ledger line as an event, or ``ValueError`` saying what is wrong with it."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError:
        raise ValueError("not a JSON record (torn by a crash, or edited)") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if "event" not in data and "job_id" in data:  # the first ledger format: one line per submitted job
        data = {**data, "event": "adopted", "token": f"job-{data['job_id']}"}
    kind = data.get("event")
    if kind not in ("intent", "submitted", "abandoned", "adopted", *NOTES):
        raise ValueError(f"unknown event {kind!r}")
    for key in _TEXT_FIELDS:
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} is not text")
    if not isinstance(data.get("token"), str) or not data["token"]:
        raise ValueError("no token")
    for key in ("job_id", "after", "held_by"):
        value = data.get(key)
        ids = value.split(":") if isinstance(value, str) and key == "held_by" else [value]  # held_by: id:id:…
        if value is not None and not all(isinstance(i, str) and _is_job_id(i) for i in ids):
            raise ValueError(f"{key} {value!r} is not a SLURM job id")
    if kind in NOTES:
        if not isinstance(data.get("run"), str):
            raise ValueError("no run")
        return data
    if kind in ("submitted", "adopted") and data.get("job_id") is None:
        raise ValueError("no job_id")
    if kind in ("intent", "adopted") or (kind == "submitted" and "run" in data):
        for key in ("run", "step"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"no {key}")
        if not is_step(data["step"]):
            raise ValueError(f"step {data['step']!r} is not a step expset writes")
    return data

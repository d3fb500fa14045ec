"""What became of a set's jobs: the ledger, reconciled with SLURM and with the records jobs left on disk.

``status`` and ``submit`` both start here, so they can never disagree about a job. SLURM's word
wins while it has one; a job SLURM has forgotten is judged by the record it left when it ended
(``logs/finetune.job<ID>.json``, ``evaluations/<task>/result_epoch_<N>.job<ID>.json``); an intent
whose ``sbatch`` result was never written is matched with SLURM's jobs by the identity in their
comment. Nothing here writes: what should be recorded is returned as ledger events, which
``submit`` appends under the set's lock.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from expset import ledger
from expset.core.failures import Failure, diagnose
from expset.core.jobs import JobState, settle
from expset.core.layout import (
    EVALUATIONS_DIR,
    FINETUNE_STEP,
    LOG_DIR,
    evaluation_step,
    is_step,
    job_record,
    job_record_prefix,
    parse_evaluation_record,
    parse_job_record,
    step_output,
)
from expset.slurm.client import SlurmClient, SlurmView


def set_key(set_dir: Path) -> str:
    """A short key of the set's real folder, carried in its jobs' comments: a copy is another set."""
    return hashlib.sha256(os.fsencode(os.path.realpath(set_dir))).hexdigest()[:12]


@dataclass(frozen=True)
class JobRecord:
    """What a job wrote when it ended: its exit status and, for an evaluation, its log and the log's status."""

    job_id: str
    exit_code: int | None
    status: str | None = None  # the inspect log's status ("success", "error"…), or why there is none
    log: str | None = None  # relative to the run folder
    started: int | None = None  # seconds since the epoch; jobs written by older versions did not say
    ended: int | None = None
    setup: str | None = None  # a fine-tune's: the SHA-256 of the setup_finetune.yaml its script was written from


@dataclass
class Tracked:
    """A set's jobs, reconciled."""

    history: dict[tuple[str, str], list[ledger.Job]] = field(default_factory=dict)  # (run, step) → oldest first
    states: dict[str, JobState] = field(default_factory=dict)  # job id → settled state
    records: dict[str, JobRecord] = field(default_factory=dict)  # job id → its record, where read
    unresolved: set[tuple[str, str]] = field(default_factory=set)  # steps whose last intent nobody can place
    events: list[dict[str, Any]] = field(default_factory=list)  # adoptions and abandonments to record
    notes: list[str] = field(default_factory=list)  # damaged ledger lines, SLURM's complaints
    slurm: SlurmView = field(default_factory=SlurmView)

    def current(self, run: str, step: str) -> ledger.Job | None:
        """The newest job of ``run``'s ``step``, if any was submitted."""
        jobs = self.history.get((run, step))
        return jobs[-1] if jobs else None

    def state(self, run: str, step: str) -> JobState:
        """The settled state of ``run``'s ``step``: not submitted when no job was."""
        if (run, step) in self.unresolved:
            return JobState.UNKNOWN
        job = self.current(run, step)
        return JobState.NOT_SUBMITTED if job is None else self.states[job.job_id]  # type: ignore[index]


def track(set_dir: Path, run_names: set[str], client: SlurmClient) -> Tracked:
    """Every job of the runs in ``run_names``: read the ledger, ask SLURM once, settle each state."""
    book = ledger.read(set_dir)
    view = client.view(sorted(book.known_job_ids()))
    tracked = Tracked(notes=[*(f"damaged ledger line: {line}" for line in book.damaged), *view.problems], slurm=view)
    key = set_key(set_dir)
    jobs = [job for job in book.jobs if job.run in run_names]
    jobs = _place_intents(jobs, book, view, set_dir, tracked)
    jobs += _adopt_strays(book, view, key, run_names, tracked)
    in_ledger = {job.run for job in jobs}
    unrecorded = run_names if book.damaged else run_names - in_ledger
    jobs += _adopt_records(set_dir, sorted(unrecorded), {job.job_id for job in jobs} | book.known_job_ids(), tracked)
    for job in jobs:
        if job.job_id is not None:
            tracked.history.setdefault((job.run, job.step), []).append(job)
    for history in tracked.history.values():  # SLURM numbers jobs in order: a job recovered late is not the newest
        history.sort(key=lambda job: numeric_job_id(job.job_id or ""))
    set_folder = str(set_dir)
    foreign = 0
    for (run, step), history in tracked.history.items():
        run_dir = os.path.join(set_folder, run)
        evaluation = step != FINETUNE_STEP
        for job in history:
            assert job.job_id is not None
            slurm = view.states.get(job.job_id)
            identity = view.identities.get(job.job_id)
            if identity is not None and identity.set_key != key:
                slurm, foreign = None, foreign + 1  # another folder's job: a copy of this set made while it ran
            ended = slurm is None or not slurm.active  # its record says how, and with which setup it trained
            record = read_record(run_dir, step, job.job_id) if evaluation or ended else None
            if record is not None:
                tracked.records[job.job_id] = record
            exit_code = record.exit_code if record is not None else None
            tracked.states[job.job_id] = settle(slurm, exit_code, slurm_answered=view.answered)
    if foreign:
        tracked.notes.append(
            f"{foreign} job(s) of this set's ledger run for another folder (the set was copied or moved while they "
            "ran): judged only by what they left here"
        )
    return tracked


def _place_intents(
    jobs: list[ledger.Job], book: ledger.Ledger, view: SlurmView, set_dir: Path, tracked: Tracked
) -> list[ledger.Job]:
    """Resolve intents with no job id: by their token in SLURM, or by a record on disk no job claims."""
    by_token = {identity.token: job_id for job_id, identity in view.identities.items()}
    for job_id, identity in view.identities.items():  # an array's tasks: its token, then the task's index
        if "_" in job_id:
            by_token[f"{identity.token}-{job_id.partition('_')[2]}"] = job_id
    known = book.known_job_ids()
    placed = []
    for job in jobs:
        if job.job_id is not None:
            placed.append(job)
            continue
        job_id = by_token.get(job.token)
        source = "squeue"
        if job_id is None and view.answered:
            recorded = set(job_ids_with_records(set_dir / job.run, job.step)) - known
            job_id = next(iter(sorted(recorded, key=numeric_job_id)), None)
            source = "job record"
        if job_id is not None:
            known.add(job_id)
            job = replace(job, job_id=job_id)
            tracked.events.append(ledger.adopted(job, source))
            placed.append(job)
        elif view.answered:
            tracked.events.append(ledger.abandoned(job.token, "not in SLURM and left nothing on disk"))
        else:
            tracked.unresolved.add((job.run, job.step))
    return placed


def _adopt_strays(
    book: ledger.Ledger, view: SlurmView, key: str, run_names: set[str], tracked: Tracked
) -> list[ledger.Job]:
    """Jobs SLURM holds for this set that the ledger does not know (their lines were lost or torn)."""
    known = book.known_job_ids()
    strays = []
    for job_id, identity in sorted(view.identities.items(), key=lambda item: numeric_job_id(item[0])):
        if identity.set_key != key or job_id in known or identity.token in book.tokens or identity.run not in run_names:
            continue
        if not is_step(identity.step):
            continue
        job = ledger.Job(run=identity.run, step=identity.step, token=identity.token, job_id=job_id, time=ledger.now())
        tracked.events.append(ledger.adopted(job, "squeue"))
        strays.append(job)
    return strays


def _adopt_records(set_dir: Path, runs: list[str], known: set[str | None], tracked: Tracked) -> list[ledger.Job]:
    """Jobs that left a record in a run folder but are in no ledger line (the ledger was emptied or damaged)."""
    found = []
    for run in runs:
        run_dir = set_dir / run
        for name in list_folder(run_dir / LOG_DIR):
            job_id = parse_job_record(name, "finetune.")
            if job_id is not None and job_id not in known:
                found.append((run, FINETUNE_STEP, job_id))
        for task in list_folder(run_dir / EVALUATIONS_DIR):
            for name in list_folder(run_dir / EVALUATIONS_DIR / task):
                place = parse_evaluation_record(name)
                if place is not None and place[1] not in known:
                    found.append((run, evaluation_step(task, place[0]), place[1]))
    jobs = []
    for run, step, job_id in sorted(found, key=lambda item: numeric_job_id(item[2])):
        job = ledger.Job(run=run, step=step, token=f"record-{job_id}", job_id=job_id, time=ledger.now())
        tracked.events.append(ledger.adopted(job, "job record"))
        jobs.append(job)
    return jobs


def list_folder(path: Path) -> list[str]:
    """The names in ``path``; none when it is missing or unreadable."""
    try:
        return os.listdir(path)
    except OSError:
        return []


def numeric_job_id(job_id: str) -> tuple[int, int, str]:
    """A job id as a sort key: SLURM numbers its jobs in the order they were submitted; an array task
    (``1234_5``) sorts by its array, then its index."""
    base, _, task = job_id.partition("_")
    if base.isdigit() and (not task or task.isdigit()):
        return int(base), int(task) if task else -1, ""
    return 0, -1, job_id


def read_record(run_dir: Path | str, step: str, job_id: str) -> JobRecord | None:
    """The record job ``job_id`` left for ``step``, or None (still running, killed, or an older script)."""
    try:
        with open(os.path.join(run_dir, job_record(step, job_id)), encoding="utf-8") as file:
            data = json.loads(file.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    status, log = data.get("status"), data.get("log")
    return JobRecord(
        job_id=job_id,
        exit_code=_whole_number(data.get("exit_code")),
        status=status if isinstance(status, str) else None,
        log=log if isinstance(log, str) else None,
        started=_whole_number(data.get("started")),
        ended=_whole_number(data.get("ended")),
        setup=data.get("setup") or None if isinstance(data.get("setup"), str) else None,
    )


def _whole_number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def job_ids_with_records(run_dir: Path, step: str) -> list[str]:
    """The job ids of every record of ``step`` in ``run_dir``."""
    prefix = job_record_prefix(step)
    folder, _, name_prefix = prefix.rpartition("/")
    try:
        names = os.listdir(run_dir / folder)
    except OSError:
        return []
    return [job_id for name in names if (job_id := parse_job_record(name, name_prefix)) is not None]


FAILED_STATES = (JobState.FAILED, JobState.CANCELLED, JobState.LOST)


def job_failure(run_dir: Path, step: str, job_id: str, tracked: Tracked) -> Failure:
    """Why job ``job_id`` of ``step`` failed: SLURM's state name, the exit status it recorded, its output's tail."""
    record = tracked.records.get(job_id)
    output = run_dir / step_output(step).replace("%j", job_id)
    return diagnose(tracked.slurm.names.get(job_id), record.exit_code if record else None, read_tail(output))


def read_tail(path: Path, size: int = 16_384) -> str:
    """The last ``size`` bytes of a file as text; empty when it cannot be read."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.fstat(file.fileno()).st_size - size))
            return file.read().decode("utf-8", "replace")
    except OSError:
        return ""


def setup_changed_since(tracked: Tracked, run: str, scaffolded: str | None) -> bool:
    """Whether ``run``'s fine-tune completed with training inputs other than those scaffolded now (``scaffolded``,
    the digest in ``.expset/training.json``): its results are not those of the setup now there."""
    job = tracked.current(run, FINETUNE_STEP)
    record = tracked.records.get(job.job_id or "") if job else None
    if record is None or record.setup is None or scaffolded is None:
        return False
    return tracked.state(run, FINETUNE_STEP) is JobState.COMPLETED and record.setup != scaffolded

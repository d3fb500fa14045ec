"""``expset status``: where every run stands, from SLURM (one query for the whole set), the ledger,
and what is on disk — ``epoch_N/`` folders and the result each evaluation job left beside its log.
Reads no evaluation log itself, so 10,000 runs take about a second."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from expset import ledger
from expset.backends.slurm import SlurmClient
from expset.core.naming import ExperimentSet
from expset.core.status import JobState

_EPOCH_DIR = re.compile(r"epoch_(\d+)")


class Progress(str, Enum):
    COMPLETE = "complete"
    RUNNING = "running"
    PENDING = "pending"
    FAILED = "failed"
    NOT_SUBMITTED = "not submitted"
    UNKNOWN = "unknown"


@dataclass
class EvaluationStatus:
    task: str
    epoch: int
    job: JobState
    result: str | None  # the log's status as the job recorded it ("success", "error"…), None before


@dataclass
class RunStatus:
    run: str
    progress: Progress
    finetune: JobState
    job_id: str | None
    epochs_on_disk: list[int]
    evaluations: list[EvaluationStatus] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["progress"] = self.progress.value
        data["finetune"] = self.finetune.value
        for evaluation in data["evaluations"]:
            evaluation["job"] = evaluation["job"].value
        return data


def set_status(experiment_set: ExperimentSet, set_dir: Path, client: SlurmClient) -> list[RunStatus]:
    jobs = ledger.current(ledger.read(set_dir))
    states = client.states(sorted({entry.job_id for entry in jobs.values()}))
    by_run: dict[str, list[ledger.Entry]] = {}
    for (run, _step), entry in jobs.items():
        by_run.setdefault(run, []).append(entry)
    return [_run_status(run.name, set_dir / run.name, by_run.get(run.name, []), states) for run in experiment_set.runs]


def _run_status(run: str, run_dir: Path, entries: list[ledger.Entry], states: dict[str, JobState]) -> RunStatus:
    finetune_entry = next((entry for entry in entries if entry.step == ledger.FINETUNE), None)
    finetune = states.get(finetune_entry.job_id, JobState.UNKNOWN) if finetune_entry else JobState.NOT_SUBMITTED
    epochs = sorted(int(m.group(1)) for name in _listdir(run_dir) if (m := _EPOCH_DIR.fullmatch(name)))
    evaluations = []
    for entry in entries:
        if entry.step == ledger.FINETUNE:
            continue
        _, task, epoch_name = entry.step.split("/")
        epoch = int(epoch_name.removeprefix("epoch_"))
        evaluations.append(EvaluationStatus(task, epoch, states.get(entry.job_id, JobState.UNKNOWN), None))
    for evaluation in evaluations:
        evaluation.result = _result(run_dir / "evaluations" / evaluation.task / f"result_epoch_{evaluation.epoch}.json")
    evaluations.sort(key=lambda e: (e.task, e.epoch))
    return RunStatus(
        run, _progress(finetune, evaluations), finetune, finetune_entry and finetune_entry.job_id, epochs, evaluations
    )


def _progress(finetune: JobState, evaluations: list[EvaluationStatus]) -> Progress:
    jobs = [finetune, *(e.job for e in evaluations)]
    if finetune is JobState.NOT_SUBMITTED:
        return Progress.NOT_SUBMITTED
    if any(job in (JobState.FAILED, JobState.CANCELLED) for job in jobs) or any(
        e.result not in (None, "success") for e in evaluations
    ):
        return Progress.FAILED
    if any(job is JobState.RUNNING for job in jobs):
        return Progress.RUNNING
    if any(job is JobState.PENDING for job in jobs):
        return Progress.PENDING
    if finetune is JobState.COMPLETED and all(e.result == "success" for e in evaluations):
        return Progress.COMPLETE
    return Progress.UNKNOWN


def summary(statuses: list[RunStatus]) -> dict[str, int]:
    counts = {progress.value: 0 for progress in Progress}
    for status in statuses:
        counts[status.progress.value] += 1
    return counts


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _result(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("status"))
    except (OSError, ValueError, AttributeError):
        return None

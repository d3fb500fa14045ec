"""Stage five, ``expset report``: the set's answer, from its evaluation logs and training logs.

Reads every evaluation the set expects through inspect-ai's own log reader (the header only: scores,
metadata, status) and every fine-tune's torchtune training log, joins them with the runs' parameters,
and writes ``report/`` in the set: ``results.csv``, ``training.csv``, ``cost.csv``, ``report.md``,
a self-contained ``report.html`` and the figures. The folder is replaced whole; nothing else in the
set is touched. Needs inspect-ai and matplotlib (the ``report`` extra), never torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expset.core.layout import (
    FINETUNE_STEP,
    LOG_DIR,
    SETUP_FILE,
    evaluation_step,
)
from expset.core.naming import ExperimentSet
from expset.core.parameters import BY_KEY
from expset.core.report import Cell, Missing, RunInfo, Score, expected_cells, missing_cells, parse_training_log
from expset.core.run_setup import RunSetup, evaluated_epochs
from expset.errors import FileFormatError, SetupError, ToolMissingError
from expset.sets import read_setup
from expset.slurm.client import SlurmClient
from expset.tracking import JobRecord, job_ids_with_records, list_folder, numeric_job_id, read_record

TRAINING_LOG = re.compile(r"log_(\d+)\.txt")
"""torchtune's ``DiskLogger`` file in a run's ``logs/``: one per attempt, named after its start time."""


@dataclass
class Gathered:
    """Everything the report is made of, read from the set."""

    runs: dict[str, RunInfo]
    expected: list[Cell]
    scores: list[Score]
    missing: list[Missing]
    training: dict[str, list[dict[str, float]]]  # run → one row per step
    costs: list[dict[str, Any]]  # one row per job that recorded its start and end
    notes: list[str] = field(default_factory=list)

    @property
    def complete_runs(self) -> int:
        """Runs with every expected cell scored."""
        lacking = {missing.cell.run for missing in self.missing}
        return sum(1 for run in self.runs if run not in lacking)


def require_report_libraries() -> None:
    """Raise ``ToolMissingError`` in one line when inspect-ai or matplotlib is not installed."""
    import importlib.util

    absent = [name for name in ("inspect_ai", "matplotlib") if importlib.util.find_spec(name) is None]
    if absent:
        raise ToolMissingError(
            f"expset report reads logs with inspect-ai and draws with matplotlib; {' and '.join(absent)} "
            f"{'is' if len(absent) == 1 else 'are'} not installed",
            hint="pip install 'expset[report]'",
        )


def gather(experiment_set: ExperimentSet, set_dir: Path, client: SlurmClient | None = None) -> Gathered:
    """Read the set's setups, job records, evaluation logs and training logs; ``client`` asks SLURM's
    accounting how long the jobs ran."""
    set_dir = set_dir.absolute()
    plan = experiment_set.plan
    runs: dict[str, RunInfo] = {}
    epochs_by_run: dict[str, dict[str, list[int]]] = {}
    setups: dict[str, RunSetup | None] = {}
    notes: list[str] = []
    for run in experiment_set.all_runs:
        parameters = dict(run.varied) if run.evaluated_only else {**run.varied, **plan.fixed}
        runs[run.name] = RunInfo(run.name, run.kind, parameters, dict(run.varied), run.source)
        setup = _setup(set_dir / run.name, notes)
        setups[run.name] = setup
        if setup is not None:
            epochs_by_run[run.name] = {e.name: list(e.epochs) for e in setup.evaluations}
        elif run.evaluated_only:
            epochs_by_run[run.name] = {e.name: [0] for e in plan.evaluations}  # its model, evaluated once
        else:
            trained = int(runs[run.name].parameters.get("epochs", BY_KEY["epochs"].default))
            epochs_by_run[run.name] = {e.name: evaluated_epochs(e.epochs, trained) for e in plan.evaluations}
    expected = expected_cells(epochs_by_run)
    scores, failures = _read_scores(set_dir, expected)
    scored = {score.cell for score in scores}
    training = {name: rows for name in runs if (rows := _training(set_dir / name))}
    return Gathered(
        runs=runs,
        expected=expected,
        scores=scores,
        missing=missing_cells(expected, scored, failures),
        training=training,
        costs=_costs(set_dir, expected, setups, client),
        notes=notes,
    )


def _setup(run_dir: Path, notes: list[str]) -> RunSetup | None:
    if not (run_dir / SETUP_FILE).is_file():
        return None
    try:
        return read_setup(run_dir / SETUP_FILE)
    except (SetupError, FileFormatError) as error:
        notes.append(f"{error.message}: its evaluations are taken from the plan")
        return None


def _newest_first(run_dir: Path, step: str) -> list[JobRecord]:
    ids = sorted(job_ids_with_records(run_dir, step), key=numeric_job_id, reverse=True)
    return [record for job in ids if (record := read_record(run_dir, step, job)) is not None]


def _log_of(set_dir: Path, cell: Cell) -> tuple[str | None, str | None]:
    """The log of the newest successful evaluation of ``cell`` (relative to the set), or why there is none
    (None when it never ran)."""
    records = _newest_first(set_dir / cell.run, evaluation_step(cell.task, cell.epoch))
    succeeded = [record for record in records if record.exit_code == 0 and record.log]
    if succeeded:
        return f"{cell.run}/{succeeded[0].log}", None
    if records:
        latest = records[0]
        return None, f"evaluation failed (job {latest.job_id}: {latest.status or f'exit status {latest.exit_code}'})"
    return None, None


def _read_scores(set_dir: Path, expected: list[Cell]) -> tuple[list[Score], dict[Cell, str]]:
    """The scores of every expected cell whose evaluation succeeded, and why each other one has none.

    The logs' headers are read together, concurrently, through inspect-ai's own reader; a log that is
    gone or cannot be read is named with the reader's complaint, never a traceback.
    """
    import asyncio

    from inspect_ai.log import read_eval_log_async

    failures: dict[Cell, str] = {}
    logs: dict[Cell, str] = {}
    for cell in expected:
        log, failure = _log_of(set_dir, cell)
        if log is not None:
            logs[cell] = log
        elif failure is not None:
            failures[cell] = failure

    async def read_all() -> list[Any]:
        reads = [read_eval_log_async(str(set_dir / log), header_only=True) for log in logs.values()]
        return await asyncio.gather(*reads, return_exceptions=True)

    scores: list[Score] = []
    for (cell, log), header in zip(logs.items(), asyncio.run(read_all()) if logs else [], strict=True):
        if isinstance(header, FileNotFoundError):
            failures[cell] = f"its log {log} is gone"
        elif isinstance(header, BaseException):
            failures[cell] = f"its log {log} cannot be read ({type(header).__name__}: {str(header)[:120]})"
        else:
            scores.extend(_header_scores(header, cell, log))
    return scores, failures


def _header_scores(log: Any, cell: Cell, relative: str) -> list[Score]:
    results = log.results
    if results is None:
        return []
    samples = results.completed_samples
    found = []
    for score in results.scores:
        stderr = score.metrics.get("stderr")
        for name, metric in score.metrics.items():
            if name == "stderr" or not isinstance(metric.value, (int, float)) or not math.isfinite(metric.value):
                continue
            found.append(
                Score(
                    cell=cell,
                    scorer=score.name,
                    metric=name,
                    value=float(metric.value),
                    stderr=float(stderr.value) if stderr is not None else None,
                    samples=samples,
                    log=relative,
                )
            )
    return found


def _training(run_dir: Path) -> list[dict[str, float]]:
    """The loss, learning rate and throughput of each step, from the newest training log of the run."""
    logs = [(int(m.group(1)), name) for name in list_folder(run_dir / LOG_DIR) if (m := TRAINING_LOG.fullmatch(name))]
    if not logs:
        return []
    _, newest = max(logs)
    try:
        text = (run_dir / LOG_DIR / newest).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return parse_training_log(text)


def _costs(
    set_dir: Path, expected: list[Cell], setups: dict[str, RunSetup | None], client: SlurmClient | None
) -> list[dict[str, Any]]:
    """Elapsed time and GPU-hours of every job that left a record: from SLURM's accounting where the
    cluster keeps it, else from the start and end the job recorded."""
    steps = [(run, FINETUNE_STEP) for run, setup in setups.items() if not (setup and setup.evaluated_only)]
    steps += [(cell.run, evaluation_step(cell.task, cell.epoch)) for cell in expected]
    jobs = [(run, step, record) for run, step in steps for record in _newest_first(set_dir / run, step)]
    slurm_ids = [record.job_id for _, _, record in jobs if record.job_id.isdigit()]  # not jobs run by hand
    accounted = client.elapsed(slurm_ids) if client and slurm_ids else {}
    rows = []
    for run, step, record in jobs:
        setup = setups.get(run)
        if step == FINETUNE_STEP:
            gpus = setup.resources.gpus if setup else None
        else:
            gpus = 1 if setup and setup.training.device == "cuda" else 0
        if record.job_id in accounted:
            elapsed, slurm_gpus = accounted[record.job_id]
            gpus, source = (slurm_gpus if slurm_gpus is not None else gpus), "slurm"
        elif record.started is not None and record.ended is not None:
            elapsed, source = max(0, record.ended - record.started), "job record"
        else:
            continue
        rows.append(
            {
                "run": run,
                "step": step,
                "job": record.job_id,
                "exit_code": record.exit_code,
                "elapsed_s": elapsed,
                "gpus": gpus,
                "gpu_hours": None if gpus is None else round(elapsed * gpus / 3600, 4),
                "source": source,
            }
        )
    return rows

"""The answer of a set, from its scores: which cells are there, the table by the varied parameters, the
best run, and runs that differ only by their seed taken together. Pure: the shell reads the logs.

A *cell* is one evaluation the set expects: a run, a task, an epoch. A *score* is one metric of one
scorer in the log of a cell. Nothing is dropped silently: every expected cell without a score is
listed with the reason.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from expset.core.naming import CONTROL, FINE_TUNED
from expset.core.values import Scalar, format_value

SEED = "seed"
EpochChoice = Literal["last", "best", "all"] | int


@dataclass(frozen=True)
class Cell:
    """One evaluation the set expects: ``run`` evaluated on ``task`` after ``epoch`` (numbered from 0)."""

    run: str
    task: str
    epoch: int


@dataclass(frozen=True)
class Score:
    """One metric of one scorer, read from the log of a cell."""

    cell: Cell
    scorer: str
    metric: str
    value: float
    stderr: float | None
    samples: int | None
    log: str  # relative to the set folder


@dataclass(frozen=True)
class Missing:
    """An expected cell with no score, and why: not run yet, failed, or its log cannot be read."""

    cell: Cell
    reason: str


@dataclass(frozen=True)
class RunInfo:
    """A run as the report joins it: its name, its kind and every plan parameter (varied and fixed)."""

    name: str
    kind: str
    parameters: dict[str, Any]
    varied: dict[str, Scalar]
    source: str | None = None  # the checkpoint an evaluation-only run evaluates


@dataclass
class Pivot:
    """Scores of one task and metric laid out by up to two varied parameters (else by run).

    ``rows`` and ``columns`` hold the values shown at the side and on top; ``cells`` maps (row, column) to
    the score, or to the aggregate of replicates when runs differ only by seed.
    """

    task: str
    metric: str
    row_key: str
    column_key: str | None
    rows: list[Any]
    columns: list[Any]
    cells: dict[tuple[Any, Any], Aggregate] = field(default_factory=dict)
    best: tuple[Any, Any] | None = None  # the one cell with the highest mean; None when several share it
    scorer: str = ""
    epoch: int | None = None  # the epoch shown, when the tables are one per epoch (``--epoch all``)


@dataclass(frozen=True)
class Aggregate:
    """Several runs that differ only by their seed, or one run: mean, standard deviation, n and a 95%
    interval (Student's t; None for a single run, whose finding is labelled single-seed)."""

    mean: float
    std: float | None
    n: int
    low: float | None
    high: float | None
    runs: tuple[str, ...]

    @property
    def single(self) -> bool:
        return self.n == 1

    def overlaps(self, other: Aggregate) -> bool:
        """Whether the two intervals overlap: the difference between them is not established."""
        if self.low is None or self.high is None or other.low is None or other.high is None:
            return False
        return self.low <= other.high and other.low <= self.high


_T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
"""Two-sided 95% quantiles of Student's t by degrees of freedom, for the fewest replicates."""


def t_quantile(degrees: int) -> float:
    """The two-sided 95% quantile of Student's t: exact to three decimals up to 10 degrees of freedom,
    beyond that the Cornish–Fisher expansion around the normal quantile (within 0.1%)."""
    if degrees in _T_95:
        return _T_95[degrees]
    z, v = 1.959964, float(degrees)
    return z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)


def aggregate(values: Sequence[float], runs: Sequence[str]) -> Aggregate:
    """Mean, standard deviation, n and the 95% t interval of ``values`` (one per run)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Aggregate(mean, None, len(values), None, None, tuple(runs))
    std = statistics.stdev(values)
    half = t_quantile(len(values) - 1) * std / math.sqrt(len(values))
    return Aggregate(mean, std, len(values), mean - half, mean + half, tuple(runs))


def expected_cells(evaluated_epochs: dict[str, dict[str, list[int]]]) -> list[Cell]:
    """Every cell the set expects, from each run's tasks and their evaluated epochs, in run order."""
    return [
        Cell(run, task, epoch)
        for run, tasks in evaluated_epochs.items()
        for task, epochs in tasks.items()
        for epoch in epochs
    ]


def measure_of(scores: Iterable[Score], task: str, metric: str | None = None) -> tuple[str, str] | None:
    """(scorer, metric) a task is judged by: its first scorer reporting ``metric``, or without ``metric``
    (``--metric``) its first scorer's first metric. Scores of different scorers are never pooled."""
    for score in scores:
        if score.cell.task == task and (metric is None or score.metric == metric):
            return score.scorer, score.metric
    return None


def choose_epochs(scores: list[Score], choice: EpochChoice, expected: Iterable[Cell]) -> list[Score]:
    """The scores of the epoch ``choice`` names for each run and task: the last one the run is to be
    evaluated after (missing while that evaluation is — never an earlier epoch in its place), the best
    (the highest value, chosen on these same scores), epoch N, or every one (``all``)."""
    if choice == "all":
        return scores
    if isinstance(choice, int):
        return [score for score in scores if score.cell.epoch == choice]
    if choice == "last":
        last: dict[tuple[str, str], int] = {}
        for cell in expected:
            last[(cell.run, cell.task)] = max(cell.epoch, last.get((cell.run, cell.task), cell.epoch))
        return [score for score in scores if last.get((score.cell.run, score.cell.task)) == score.cell.epoch]
    chosen: dict[tuple[str, str, str, str], Score] = {}
    for score in scores:
        key = (score.cell.run, score.cell.task, score.scorer, score.metric)
        if key not in chosen or score.value > chosen[key].value:
            chosen[key] = score
    kept = {id(score) for score in chosen.values()}
    return [score for score in scores if id(score) in kept]


def pivot(
    scores: list[Score],
    runs: dict[str, RunInfo],
    task: str,
    measure: tuple[str, str],
    by: Sequence[str],
    varied: Sequence[str],
) -> Pivot:
    """The scores of ``task`` and ``measure`` (scorer, metric; one epoch per run: choose it first) by the
    parameters ``by`` (rows, then columns; by default the varied ones, seed apart). Runs that differ only
    by seed share a cell, as an aggregate; runs with more varied parameters than two are listed by name."""
    scorer, metric = measure
    chosen = [s for s in scores if s.cell.task == task and s.scorer == scorer and s.metric == metric]
    keys = [key for key in (by or [key for key in varied if key != SEED]) if key in varied]
    shown_keys = keys[:2]
    hidden = [key for key in varied if key not in shown_keys and key != SEED]
    row_key = shown_keys[0] if shown_keys and not hidden else "run"
    column_key = shown_keys[1] if len(shown_keys) == 2 and not hidden else None

    def position(score: Score) -> tuple[Any, Any]:
        info = runs[score.cell.run]
        if row_key == "run":
            without_seed = {k: v for k, v in info.varied.items() if k != SEED}
            return (_run_label(info.name, without_seed, runs), None)
        row = info.varied.get(row_key)
        column = info.varied.get(column_key) if column_key else None
        return (row, column)

    grouped: dict[tuple[Any, Any], list[Score]] = {}
    for score in chosen:
        grouped.setdefault(position(score), []).append(score)
    table = Pivot(task, metric, row_key, column_key, [], [], scorer=scorer)
    for place, group in grouped.items():
        table.cells[place] = aggregate([s.value for s in group], [s.cell.run for s in group])
    table.rows = _ordered([row for row, _ in grouped], runs, row_key)
    table.columns = _ordered([column for _, column in grouped], runs, column_key) if column_key else [None]
    top = max((cell.mean for cell in table.cells.values() if math.isfinite(cell.mean)), default=None)
    leaders = [place for place, cell in table.cells.items() if cell.mean == top]
    table.best = leaders[0] if len(leaders) == 1 else None  # a tie names no best
    return table


def _run_label(name: str, varied_without_seed: dict[str, Scalar], runs: dict[str, RunInfo]) -> str:
    """A run's row when the table is by run: its name, or for replicates the values they share."""
    if not any(SEED in info.varied for info in runs.values()):
        return name
    return ", ".join(f"{key}={format_value(value)}" for key, value in varied_without_seed.items()) or "all"


def _ordered(values: list[Any], runs: dict[str, RunInfo], key: str | None) -> list[Any]:
    """Distinct ``values`` in the order of the plan (the order the runs were made in)."""
    seen: dict[Any, None] = {}
    if key not in (None, "run"):
        for info in runs.values():
            if key in info.varied and info.varied[key] in values:
                seen.setdefault(info.varied[key], None)
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def differences_to_base(scores: list[Score], runs: dict[str, RunInfo]) -> list[Score]:
    """Each fine-tune's score less its base model's (the control run of the same model, same task and
    metric): what fine-tuning changed. Fine-tunes whose model has no scored control are left out."""
    base = {
        (str(runs[s.cell.run].varied.get("model")), s.cell.task, s.scorer, s.metric): s.value
        for s in scores
        if runs[s.cell.run].kind == CONTROL
    }
    found = []
    for score in scores:
        info = runs[score.cell.run]
        key = (str(info.parameters.get("model")), score.cell.task, score.scorer, score.metric)
        if info.kind == FINE_TUNED and key in base:
            found.append(replace(score, value=score.value - base[key], stderr=None))
    return found


def scores_of_kind(
    scores: list[Score], runs: dict[str, RunInfo], kind: str, task: str, measure: tuple[str, str]
) -> list[tuple[str, Any, float]]:
    """(run, model, score) of every run of ``kind`` (the controls, the evaluation-only runs) on ``task``
    and ``measure``: they stand beside the table of the fine-tunes, not in it."""
    return [
        (s.cell.run, runs[s.cell.run].varied.get("model"), s.value)
        for s in scores
        if runs[s.cell.run].kind == kind and s.cell.task == task and (s.scorer, s.metric) == measure
    ]


def missing_cells(expected: list[Cell], scored: set[Cell], failures: dict[Cell, str]) -> list[Missing]:
    """Every expected cell without a score, with its reason: the failure recorded for it, else not run yet."""
    return [Missing(cell, failures.get(cell, "no evaluation log yet")) for cell in expected if cell not in scored]


def result_rows(scores: list[Score], runs: dict[str, RunInfo]) -> list[dict[str, Any]]:
    """``results.csv``: one row per run × task × epoch × metric, with every plan parameter as a column."""
    parameter_keys = list(dict.fromkeys(key for info in runs.values() for key in info.parameters))
    rows = []
    for score in scores:
        info = runs[score.cell.run]
        row = {
            "run": score.cell.run,
            "kind": info.kind,
            "task": score.cell.task,
            "epoch": score.cell.epoch,
            "scorer": score.scorer,
            "metric": score.metric,
            "value": score.value,
            "stderr": score.stderr,
            "samples": score.samples,
        }
        row.update({key: info.parameters.get(key) for key in parameter_keys})
        row["source"] = info.source
        row["log"] = score.log
        rows.append(row)
    return rows


_TRAINING_LINE = re.compile(r"Step (\d+) \| (.*)")


def parse_training_log(text: str) -> list[dict[str, float]]:
    """The rows of torchtune's ``DiskLogger`` text (``Step 3 | loss:2.1 lr:3e-4 …``), one per step in step
    order, each with ``step`` and every number logged for it; other lines are skipped."""
    steps: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        match = _TRAINING_LINE.fullmatch(line.strip())
        if not match:
            continue
        row = steps.setdefault(int(match.group(1)), {"step": float(match.group(1))})
        for item in match.group(2).split():
            name, _, value = item.partition(":")
            try:
                number = float(value)
            except ValueError:
                continue
            if name and math.isfinite(number):
                row[name] = number
    return [steps[step] for step in sorted(steps)]

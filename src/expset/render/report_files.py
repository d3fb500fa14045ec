"""The files of ``report/``: the CSV tables, the figures, ``report.md`` and a self-contained ``report.html``.

The pages are Jinja templates over plain data; the HTML carries its figures inline (``data:`` URLs),
so it opens offline from a cluster's file system, and the Markdown links the PNGs beside it.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from typing import Any

from expset.core.naming import CONTROL, EVALUATION_ONLY, FINE_TUNED, ExperimentSet
from expset.core.report import (
    EpochChoice,
    Pivot,
    Score,
    choose_epochs,
    differences_to_base,
    measure_of,
    pivot,
    result_rows,
    scores_of_kind,
)
from expset.core.values import format_value

RESULTS_FILE = "results.csv"
TRAINING_FILE = "training.csv"
COST_FILE = "cost.csv"
MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
LOSS_FIGURE = "loss.png"


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Rows as CSV, every row with the same columns (the union, in order of first appearance)."""
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})
    return buffer.getvalue()


def training_rows(training: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    """``training.csv``: one row per run × step."""
    return [
        {"run": run, **{k: (int(v) if k == "step" else v) for k, v in row.items()}}
        for run, rows in training.items()
        for row in rows
    ]


def tables(gathered: Any, by: list[str], metric: str | None, epoch: EpochChoice) -> list[Pivot]:
    """One table per task of the fine-tunes' scores (``metric``, else the task's first) at the chosen
    epoch, by ``by``; with ``all``, one table per task and evaluated epoch."""
    return [
        table
        for number, chosen in _by_epoch(gathered, _fine_tuned(gathered), epoch)
        for table in _tables(gathered, by, metric, chosen, number)
    ]


def difference_tables(gathered: Any, by: list[str], metric: str | None, epoch: EpochChoice) -> list[Pivot]:
    """The same tables of each fine-tune's difference to its base model; empty without control runs."""
    controls = [s for s in gathered.scores if gathered.runs[s.cell.run].kind == CONTROL]
    found = []
    for number, chosen in _by_epoch(gathered, _fine_tuned(gathered), epoch):
        differences = differences_to_base(chosen + controls, gathered.runs)
        found += _tables(gathered, by, metric, differences, number) if differences else []
    for table in found:
        table.metric = f"{table.metric} − base model"
    return found


def _by_epoch(gathered: Any, scores: list[Score], epoch: EpochChoice) -> list[tuple[int | None, list[Score]]]:
    """The scores of the chosen epoch, or with ``all`` those of each epoch apart: epochs are never pooled."""
    if epoch != "all":
        return [(None, choose_epochs(scores, epoch, gathered.expected))]
    epochs = sorted({score.cell.epoch for score in scores})
    return [(number, choose_epochs(scores, number, gathered.expected)) for number in epochs]


def _fine_tuned(gathered: Any) -> list[Score]:
    return [score for score in gathered.scores if gathered.runs[score.cell.run].kind == FINE_TUNED]


def _tables(gathered: Any, by: list[str], metric: str | None, scores: list[Score], epoch: int | None) -> list[Pivot]:
    runs = {name: info for name, info in gathered.runs.items() if info.kind == FINE_TUNED}
    varied = list(dict.fromkeys(key for info in runs.values() for key in info.varied))
    found = []
    for task in dict.fromkeys(cell.task for cell in gathered.expected):
        measure = measure_of(gathered.scores, task, metric)
        if measure is not None and any(s.cell.task == task and (s.scorer, s.metric) == measure for s in scores):
            table = pivot(scores, runs, task, measure, by, varied)
            table.epoch = epoch
            found.append(table)
    return found


def render_report(
    experiment_set: ExperimentSet,
    gathered: Any,
    pivots: list[Pivot],
    epoch: EpochChoice,
    differences: list[Pivot] | None = None,
) -> dict[str, bytes]:
    """Every file of ``report/``, by name."""
    from expset.render import figures
    from expset.render.templates import render

    files: dict[str, bytes] = {
        RESULTS_FILE: csv_text(result_rows(gathered.scores, gathered.runs)).encode(),
        TRAINING_FILE: csv_text(training_rows(gathered.training)).encode(),
        COST_FILE: csv_text(
            gathered.costs, ["run", "step", "job", "exit_code", "elapsed_s", "gpus", "gpu_hours", "source"]
        ).encode(),
    }
    first_varied = next(iter(experiment_set.convention.parameters), None)
    colour_key = first_varied.key if first_varied else None
    colour = {name: info.varied.get(colour_key) for name, info in gathered.runs.items()}
    sections = []
    difference_of = {(table.task, table.epoch): table for table in differences or []}
    drawn_by_epoch: set[str] = set()
    for table in pivots:
        measure = (table.scorer, table.metric)
        stem = _file_stem(table.task, table.metric, table.epoch)
        score_png = f"{stem}.png"
        files[score_png] = figures.score_figure(table)
        epoch_png = None
        if table.task not in drawn_by_epoch:  # one figure of every epoch per task
            drawn_by_epoch.add(table.task)
            by_epoch = figures.epoch_figure(table.task, measure, _fine_tuned(gathered), colour, colour_key)
            if by_epoch is not None:
                epoch_png = f"{_file_stem(table.task, table.metric, None)}.by-epoch.png"
                files[epoch_png] = by_epoch
        section = _section(table, gathered, score_png, epoch_png)
        section["base"] = [
            {"model": format_value(model), "value": f"{value:.3f}"}
            for _, model, value in scores_of_kind(gathered.scores, gathered.runs, CONTROL, table.task, measure)
        ]
        section["evaluation_only"] = [
            {"run": run, "model": format_value(model), "value": f"{value:.3f}"}
            for run, model, value in scores_of_kind(
                gathered.scores, gathered.runs, EVALUATION_ONLY, table.task, measure
            )
        ]
        difference = difference_of.get((table.task, table.epoch))
        section["difference"] = _rows(difference, signed=True) if difference else None
        sections.append(section)
    loss = figures.loss_figure(gathered.training, colour, colour_key)
    if loss is not None:
        files[LOSS_FIGURE] = loss
    context = _context(experiment_set, gathered, sections, LOSS_FIGURE if loss else None, epoch)
    context["every_run"] = _every_run(gathered, pivots, epoch)
    files[MARKDOWN_FILE] = render("report.md.j2", context).encode()
    inline = {
        name: "data:image/png;base64," + base64.b64encode(data).decode()
        for name, data in files.items()
        if name.endswith(".png")
    }
    files[HTML_FILE] = render("report.html.j2", {**context, "images": inline}).encode()
    return files


def _file_stem(task: str, metric: str, epoch: int | None) -> str:
    """A figure's file name: task, metric and (one table per epoch) the epoch, in characters any file
    system takes."""
    stem = f"{task}.{metric}" + (f".epoch{epoch}" if epoch is not None else "")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem)


def _rows(table: Pivot, *, signed: bool = False) -> list[dict[str, Any]]:
    """The table's rows as text cells, the best marked and intervals overlapping the best's noted."""
    best_cell = table.cells.get(table.best) if table.best else None
    number = "{:+.3f}" if signed else "{:.3f}"
    replicated = any(not cell.single for cell in table.cells.values())
    rows = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            cell = table.cells.get((row, column))
            if cell is None:
                cells.append({"text": "—", "best": False, "overlaps_best": False})
                continue
            text = number.format(cell.mean)
            if replicated:
                text += " (n=1)" if cell.single else f" ± {cell.std:.3f} (n={cell.n})"
            is_best = (row, column) == table.best
            overlaps = bool(best_cell and not is_best and cell.overlaps(best_cell))
            cells.append({"text": text, "best": is_best, "overlaps_best": overlaps})
        rows.append({"label": format_value(row) if row is not None else "", "cells": cells})
    return rows


def _section(table: Pivot, gathered: Any, score_png: str, epoch_png: str | None) -> dict[str, Any]:
    best_cell = table.cells.get(table.best) if table.best else None
    best = None
    if best_cell is not None:
        names = list(best_cell.runs)
        parameters = gathered.runs[names[0]].varied
        best = {
            "runs": names,
            "value": f"{best_cell.mean:.3f}",
            "parameters": ", ".join(f"{k}={format_value(v)}" for k, v in parameters.items() if k != "seed"),
            "single": best_cell.single,
        }
    return {
        "task": table.task,
        "metric": table.metric,
        "scorer": table.scorer,
        "epoch": table.epoch,
        "row_key": table.row_key,
        "column_key": table.column_key,
        "columns": [format_value(c) for c in table.columns] if table.column_key else [table.metric],
        "rows": _rows(table),
        "best": best,
        "replicated": any(not cell.single for cell in table.cells.values()),
        "figure": score_png,
        "epoch_figure": epoch_png,
    }


def _every_run(gathered: Any, pivots: list[Pivot], epoch: EpochChoice) -> dict[str, Any]:
    """Every run by name, its kind and its score on each task's measure (at the chosen epoch of a
    fine-tune — the last with ``all`` — or missing): the table a reader looks a run up in."""
    measures = list(dict.fromkeys((table.task, table.scorer, table.metric) for table in pivots))
    chosen = choose_epochs(_fine_tuned(gathered), "last" if epoch == "all" else epoch, gathered.expected)
    chosen += [score for score in gathered.scores if gathered.runs[score.cell.run].kind != FINE_TUNED]
    values = {(s.cell.run, s.cell.task, s.scorer, s.metric): s.value for s in chosen}
    return {
        "columns": [f"{task}: {metric}" for task, _, metric in measures],
        "rows": [
            {
                "run": name,
                "kind": info.kind,
                "cells": [
                    f"{values[(name, *measure)]:.3f}" if (name, *measure) in values else "missing"
                    for measure in measures
                ],
            }
            for name, info in gathered.runs.items()
        ],
    }


def _epoch_words(epoch: EpochChoice) -> str:
    """What ``--epoch`` chose, as the pages say it."""
    if epoch == "last":
        return "after the last epoch each run is evaluated after"
    if epoch == "best":
        return "after each run's best epoch, chosen on these same scores (so flattering)"
    if epoch == "all":
        return "after each evaluated epoch, a table for each"
    return f"after epoch {epoch} (numbered from 0)"


def _context(
    experiment_set: ExperimentSet, gathered: Any, sections: list[dict[str, Any]], loss: str | None, epoch: EpochChoice
) -> dict[str, Any]:
    plan = experiment_set.plan
    total_hours = sum(row["elapsed_s"] for row in gathered.costs) / 3600
    gpu_hours = sum(row["gpu_hours"] or 0 for row in gathered.costs)
    return {
        "set_name": experiment_set.set_name,
        "purpose": plan.purpose.strip(),
        "date": plan.date.isoformat() if plan.date else "",
        "author": plan.author or "",
        "run_count": len(gathered.runs),
        "complete_runs": gathered.complete_runs,
        "expected": len(gathered.expected),
        "scored": len({score.cell for score in gathered.scores}),
        "epoch": _epoch_words(epoch),
        "sections": sections,
        "loss_figure": loss,
        "cost": {"jobs": len(gathered.costs), "hours": f"{total_hours:.2f}", "gpu_hours": f"{gpu_hours:.2f}"},
        "missing": [
            {"run": m.cell.run, "task": m.cell.task, "epoch": m.cell.epoch, "reason": m.reason}
            for m in gathered.missing
        ],
        "notes": gathered.notes,
        "files": [RESULTS_FILE, TRAINING_FILE, COST_FILE],
    }


def scores_for_json(scores: list[Score]) -> list[dict[str, Any]]:
    """Scores as plain records, for ``report --json``."""
    return [
        {
            "run": s.cell.run,
            "task": s.cell.task,
            "epoch": s.cell.epoch,
            "scorer": s.scorer,
            "metric": s.metric,
            "value": s.value,
            "stderr": s.stderr,
            "samples": s.samples,
            "log": s.log,
        }
        for s in scores
    ]

"""The report's figures, drawn with matplotlib without a display and returned as PNG bytes.

matplotlib is imported inside each function: only ``expset report`` needs it.
"""

from __future__ import annotations

import io
from typing import Any

from expset.core.report import Pivot, Score
from expset.core.values import format_value

DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # a "$" in a parameter value is text, not TeX
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def score_figure(table: Pivot) -> bytes:
    """The score by the varied parameters: a heat-map for two, a line for one numeric, bars otherwise.
    Replicates show their mean with the 95% interval."""
    plt = _pyplot()
    if table.column_key is not None:
        figure, axes = plt.subplots(figsize=(1.2 + 1.1 * len(table.columns), 0.9 + 0.6 * len(table.rows)))
        grid = [
            [
                table.cells[(row, column)].mean if (row, column) in table.cells else float("nan")
                for column in table.columns
            ]
            for row in table.rows
        ]
        image = axes.imshow(grid, cmap="viridis", aspect="auto")
        axes.set_xticks(range(len(table.columns)), [format_value(c) for c in table.columns])
        axes.set_yticks(range(len(table.rows)), [format_value(r) for r in table.rows])
        axes.set_xlabel(table.column_key)
        axes.set_ylabel(table.row_key)
        low, high = image.get_clim()
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                if value == value:  # not NaN
                    bright = high > low and (value - low) / (high - low) > 0.6  # viridis turns yellow: dark text
                    shade = "black" if bright else "white"
                    axes.text(j, i, f"{value:.3f}", ha="center", va="center", color=shade, fontsize=9)
        figure.colorbar(image, ax=axes, label=table.metric)
    else:
        figure, axes = plt.subplots(figsize=(max(4.0, 0.8 * len(table.rows) + 2), 3.2))
        means = [table.cells[(row, None)].mean for row in table.rows]
        errors = [_half_interval(table, row) for row in table.rows]
        if table.row_key != "run" and all(_is_number(row) for row in table.rows) and len(table.rows) > 1:
            points = sorted(zip(table.rows, means, errors, strict=True))  # a line joins values in order
            axes.errorbar(*zip(*points, strict=True), marker="o", capsize=3)
            if all(row > 0 for row in table.rows) and max(table.rows) / min(table.rows) >= 10:
                axes.set_xscale("log")
        else:
            axes.bar(range(len(table.rows)), means, yerr=errors, capsize=3, color="#4C72B0")
            axes.set_xticks(range(len(table.rows)), [format_value(r) for r in table.rows], rotation=30, ha="right")
        axes.set_xlabel(table.row_key)
        axes.set_ylabel(table.metric)
    after = f", after epoch {table.epoch}" if table.epoch is not None else ""
    axes.set_title(f"{table.task}: {table.metric}{after}")
    return _png(figure)


def _half_interval(table: Pivot, row: Any) -> float:
    cell = table.cells[(row, None)]
    return 0.0 if cell.high is None else cell.high - cell.mean


LEGEND_RUNS = 12
"""Up to this many runs, each line is named in the legend; beyond it, lines are coloured by the first
varied parameter and the legend names its values (a legend of a hundred runs is unreadable and slow)."""


def _lines(
    axes: Any, curves: dict[str, list[tuple[float, float]]], colour: dict[str, Any], key: str | None, marker: str
) -> None:
    """One line per run; named in the legend when there are few, else coloured and named by ``key``."""
    plt = _pyplot()
    values = list(dict.fromkeys(colour.get(run) for run in curves))
    palette = plt.get_cmap("viridis", max(2, len(values)))
    few = len(curves) <= LEGEND_RUNS
    labelled: set[Any] = set()
    for run, points in curves.items():
        value = colour.get(run)
        label = run if few else (f"{key}={format_value(value)}" if value not in labelled else None)
        labelled.add(value)
        axes.plot(
            [x for x, _ in points],
            [y for _, y in points],
            color=palette(values.index(value)),
            marker=marker,
            linewidth=1.2,
            label=label,
        )
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


def epoch_figure(
    task: str, measure: tuple[str, str], scores: list[Score], colour: dict[str, Any], key: str | None
) -> bytes | None:
    """The score of every run after each evaluated epoch; None when no run was evaluated after two epochs."""
    metric = measure[1]
    by_run: dict[str, list[tuple[float, float]]] = {}
    for score in scores:
        if score.cell.task == task and (score.scorer, score.metric) == measure:
            by_run.setdefault(score.cell.run, []).append((score.cell.epoch, score.value))
    if not any(len(points) > 1 for points in by_run.values()):
        return None
    from matplotlib.ticker import MaxNLocator

    figure, axes = _pyplot().subplots(figsize=(5.5, 3.2))
    _lines(axes, {run: sorted(points) for run, points in by_run.items()}, colour, key, "o")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch (from 0)")
    axes.set_ylabel(metric)
    axes.set_title(f"{task}: {metric} by epoch")
    return _png(figure)


def loss_figure(training: dict[str, list[dict[str, float]]], colour: dict[str, Any], key: str | None) -> bytes | None:
    """The training loss of every run, coloured by the varied parameter ``key``; None without a loss."""
    curves = {run: [(row["step"], row["loss"]) for row in rows if "loss" in row] for run, rows in training.items()}
    curves = {run: points for run, points in curves.items() if points}
    if not curves:
        return None
    figure, axes = _pyplot().subplots(figsize=(6.0, 3.4))
    _lines(axes, curves, colour, key, "")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title("training loss" + (f", coloured by {key}" if key else ""))
    return _png(figure)

"""``expset report``: the set's answer, as tables and figures in ``report/`` and a table in the terminal."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from expset.cli.support import SetDirArgument, reporting
from expset.errors import ExitCode, UsageError


def _epoch_choice(text: str) -> str | int:
    if text in ("last", "best", "all"):
        return text
    if text.isdigit():
        return int(text)
    raise UsageError(f"--epoch {text!r}: not an epoch", hint="give last, best, all, or an epoch number (from 0)")


def _check_by(keys: list[str], varied: list[str]) -> None:
    """``--by`` must name varied parameters, at most two, and every one that varies besides the seed:
    a table that silently pooled runs of different settings would mislead."""
    if not keys:
        return
    unknown = [key for key in keys if key not in varied]
    if unknown:
        raise UsageError(f"--by {', '.join(unknown)}: not varied in this set", hint=f"varied: {', '.join(varied)}")
    if len(keys) > 2:
        raise UsageError(f"--by {','.join(keys)}: a table has two sides", hint="give one or two parameters")
    left_out = [key for key in varied if key not in keys and key != "seed"]
    if left_out:
        raise UsageError(
            f"--by {','.join(keys)}: {', '.join(left_out)} also varies, and runs that differ in it would share a cell",
            hint=f"add it: --by {','.join([*keys, *left_out][:2])}"
            if len(keys) + len(left_out) <= 2
            else "leave --by out: the table lists every run",
        )


def report_command(
    set_dir: SetDirArgument,
    by: Annotated[
        str | None, typer.Option("--by", metavar="PARAM,…", help="Lay the scores out by these parameters.")
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", metavar="NAME", help="The metric shown. Default: each task's first.")
    ] = None,
    epoch: Annotated[
        str, typer.Option("--epoch", metavar="last|best|all|N", help="Which epoch of each run. Default: last.")
    ] = "last",
    as_json: Annotated[bool, typer.Option("--json", help="Print the joined records as JSON.")] = False,
) -> None:
    """Write report/ in the set: results.csv, training.csv, cost.csv, report.md and report.html with figures.

    Reads every evaluation log (through inspect-ai) and training log of the set; names every evaluation
    that is missing or failed. Exits 0 only when every expected evaluation is scored.
    """
    from expset.cli.console import show_report, status
    from expset.core.layout import REPORT_DIR
    from expset.fs.writer import replace_folder
    from expset.render.report_files import HTML_FILE, difference_tables, render_report, scores_for_json, tables
    from expset.report import gather, require_report_libraries
    from expset.sets import load_set
    from expset.slurm.client import SlurmClient
    from expset.slurm.runner import SubprocessRunner

    with reporting("report/ is as it was before this command"):
        choice = _epoch_choice(epoch)
        require_report_libraries()
        experiment_set = load_set(set_dir)
        keys = [key.strip() for key in (by or "").split(",") if key.strip()]
        varied = [p.key for p in experiment_set.convention.parameters]
        _check_by(keys, varied)
        status("reading the logs of {} runs…", len(experiment_set.all_runs))
        gathered = gather(experiment_set, set_dir, SlurmClient(SubprocessRunner()))
        if metric and gathered.scores and not any(score.metric == metric for score in gathered.scores):
            known = ", ".join(sorted({score.metric for score in gathered.scores}))
            raise UsageError(f"--metric {metric}: no evaluation of this set reports it", hint=f"metrics: {known}")
        pivots = tables(gathered, keys, metric, choice)
        differences = difference_tables(gathered, keys, metric, choice)
        files = render_report(experiment_set, gathered, pivots, choice, differences)
        folder = replace_folder(set_dir.absolute(), REPORT_DIR, files)
        if as_json:
            document = {
                "set": experiment_set.set_name,
                "report": str(folder),
                "runs": {name: {"kind": info.kind, **info.parameters} for name, info in gathered.runs.items()},
                "scores": scores_for_json(gathered.scores),
                "missing": [
                    {"run": m.cell.run, "task": m.cell.task, "epoch": m.cell.epoch, "reason": m.reason}
                    for m in gathered.missing
                ],
            }
            sys.stdout.write(json.dumps(document, indent=1) + "\n")
        else:
            show_report(pivots + differences, gathered, folder / HTML_FILE)
        if gathered.missing:
            raise typer.Exit(ExitCode.NOT_COMPLETE)

"""Terminal output: data on stdout, status and errors on stderr, and the Rich proposal preview."""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from expset.core.values import format_value
from expset.errors import ExpsetError
from expset.ui.proposal import describe_token

if TYPE_CHECKING:
    from rich.console import Console

PREVIEW_RUNS = 12
STATUS_ROWS = 50
"""Runs shown in the status table, those needing attention first; ``--json`` lists every run."""
"""Runs shown in the preview table and tree; the rest are counted (and all are in ``--json``)."""


@lru_cache(maxsize=1)
def stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@lru_cache(maxsize=1)
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def report_error(error: ExpsetError) -> None:
    """``error: …`` then ``hint: …`` on stderr; plain text, so no Rich import on the error path."""
    color = sys.stderr.isatty()
    red, dim, reset = ("\033[31m", "\033[2m", "\033[0m") if color else ("", "", "")
    problems = getattr(error, "problems", None) or [error.message]
    for problem in problems:
        sys.stderr.write(f"{red}error:{reset} {problem}\n")
    if error.hint:
        sys.stderr.write(f"{dim}hint:{reset} {error.hint}\n")


def status(message: str) -> None:
    """A status line on stderr (Rich markup allowed)."""
    stderr().print(message, soft_wrap=True)


def show_proposal(proposal: dict[str, Any]) -> None:
    """The proposal as a person reads it: path, convention token by token, runs, tree, files."""
    from rich.markup import escape
    from rich.table import Table
    from rich.tree import Tree

    out = stdout()
    out.print(f"[bold]Experiment set[/]  {escape(proposal['path'])}", soft_wrap=True)
    out.print(f"[dim]root from {escape(proposal['root_source'])}[/]")
    out.print(f"[bold]Purpose[/]  {escape(proposal['purpose'])}")
    out.print(f"[bold]Author[/]  {escape(str(proposal['author']))}   [bold]Date[/]  {proposal['date']}")
    out.print()

    convention = proposal["convention"]
    origin = "from naming.template" if convention["custom_template"] else "built from the varied parameters"
    out.print(f"[bold]Naming convention[/]  [cyan]{escape(convention['template'])}[/]  [dim]({origin})[/]")
    tokens = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 0))
    tokens.add_column("parameter")
    tokens.add_column("token ← value")
    tokens.add_column("rule", style="dim")
    for parameter in convention["parameters"]:
        tokens.add_row(parameter["key"], escape(describe_token(parameter)), escape(parameter["rule"]))
    out.print(tokens)
    example = convention["example"]
    decoded = ", ".join(f"{k}={format_value(v)}" for k, v in example["parameters"].items())
    out.print(f"e.g. [cyan]{escape(example['name'])}[/] = {escape(decoded) or 'the single run'}")
    if convention["fixed_not_in_names"]:
        out.print(f"[dim]Fixed, so not in names: {escape(', '.join(convention['fixed_not_in_names']))}[/]")
    if convention["shortened_names"]:
        out.print(
            f"[yellow]{convention['shortened_names']} names exceed {convention['max_name_length']} characters: "
            "they are cut and end in a short hash of the full name.[/]"
        )
    out.print()

    runs = proposal["runs"]
    table = Table(title=f"{len(runs)} runs", title_justify="left", header_style="bold")
    table.add_column("run", style="cyan", no_wrap=True)
    keys = [p["key"] for p in convention["parameters"]]
    for key in keys:
        table.add_column(key)
    for run in runs[:PREVIEW_RUNS]:
        table.add_row(escape(run["name"]), *(escape(format_value(run["parameters"][k])) for k in keys))
    if len(runs) > PREVIEW_RUNS:
        table.add_row(f"… {len(runs) - PREVIEW_RUNS} more", *("" for _ in keys))
    out.print(table)
    out.print()

    tree = Tree(f"[bold]{escape(proposal['set_name'])}/[/]")
    for file in proposal["files"][:-1]:
        tree.add(f"{escape(file['path'])}  [dim]{escape(file['purpose'])}[/]")
    shown = runs if len(runs) <= 4 else runs[:3]
    for run in shown:
        branch = tree.add(f"[cyan]{escape(run['name'])}/[/]")
        branch.add("run.yaml")
        evaluations = branch.add("evaluations/")
        for task in proposal["evaluations"]:
            evaluations.add(f"{escape(task)}/")
    if len(runs) > len(shown):
        tree.add(f"[dim]… {len(runs) - len(shown)} more run folders of the same shape[/]")
    out.print(tree)
    out.print(
        f"[dim]{proposal['folders'] + 1} folders and {len(proposal['files']) - 1 + len(runs)} files "
        "will be written, all at once.[/]"
    )


def show_status(statuses: list[Any], counts: dict[str, int], set_dir: Any) -> None:
    """The status table (runs needing attention first), a summary line, and how to compare runs."""
    from rich.markup import escape
    from rich.table import Table

    out = stdout()
    colours = {"complete": "green", "running": "cyan", "pending": "yellow", "failed": "red"}
    table = Table(header_style="bold")
    for column in ("run", "state", "fine-tune", "epochs on disk", "evaluations"):
        table.add_column(column)
    attention_first = sorted(statuses, key=lambda status: status.progress.value == "complete")
    for status in attention_first[:STATUS_ROWS]:
        colour = colours.get(status.progress.value, "dim")
        evaluations = ", ".join(f"{e.task}@{e.epoch}: {e.result or e.job.value}" for e in status.evaluations)
        table.add_row(
            escape(status.run),
            f"[{colour}]{status.progress.value}[/]",
            f"{status.finetune.value}" + (f" ({status.job_id})" if status.job_id else ""),
            " ".join(f"epoch_{n}" for n in status.epochs_on_disk) or "-",
            escape(evaluations) or "-",
        )
    if len(statuses) > STATUS_ROWS:
        table.add_row(f"… {len(statuses) - STATUS_ROWS} more", "", "", "", "all runs: --json")
    out.print(table)
    out.print(" · ".join(f"{count} {name}" for name, count in counts.items() if count) or "no runs")
    out.print(
        f"[dim]Evaluation logs live in each run's evaluations/ folder; compare them across runs with "
        f"`inspect view --log-dir {escape(str(set_dir))}` (or `inspect log list --log-dir {escape(str(set_dir))}`).[/]",
        soft_wrap=True,
    )

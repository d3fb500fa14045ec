"""Terminal output: data on stdout, status and errors on stderr, and the Rich proposal preview.

Text reaches the terminal as it is: the consoles read no markup and no emoji codes in what they print,
so a path, a name or a message containing ``[bold]``, ``[/]`` or ``:smile:`` is shown character for
character. expset's own styling is written with ``markup``: a template of Rich markup with a ``{}``
for each value, the values inserted verbatim after the template is parsed.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

from expset.cli.proposal import describe_token
from expset.core.layout import EVALUATIONS_DIR, RUN_FILE
from expset.core.values import format_value
from expset.errors import ExpsetError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

MISSING_ROWS = 50
"""Missing cells of a report listed in the terminal; report.md lists them all."""
PREVIEW_RUNS = 12
"""Runs shown in the preview table and tree; the rest are counted (and all are in ``--json``)."""
FIELD = 0xE000
"""Private-use characters stand for the values of a ``markup`` template while its markup is parsed."""


def color_wanted(stream: TextIO) -> bool:
    """Whether colour and styles go to ``stream``, by the terminal conventions: ``NO_COLOR`` (any value) turns
    them off, else ``FORCE_COLOR`` (any value but 0) turns them on even into a pipe or a file, else only a
    terminal gets them (not one that says ``TERM=dumb``)."""
    if os.environ.get("NO_COLOR"):
        return False
    if _forced():
        return True
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _forced() -> bool:
    return os.environ.get("FORCE_COLOR", "") not in ("", "0")


def _console(*, error: bool) -> Console:
    from rich.console import Console

    wanted = color_wanted(sys.stderr if error else sys.stdout)
    return Console(
        stderr=error,
        highlight=False,
        markup=False,
        emoji=False,
        force_terminal=True if wanted and _forced() else None,
        color_system="auto" if wanted else None,
    )


@lru_cache(maxsize=1)
def stdout() -> Console:
    """The console for results: no markup is read from values; colour as ``color_wanted`` says."""
    return _console(error=False)


@lru_cache(maxsize=1)
def stderr() -> Console:
    """The console for progress and messages, kept apart from results so they can be piped."""
    return _console(error=True)


def markup(template: str, *values: object) -> Text:
    """``template``, expset's own Rich markup with a ``{}`` for each value, as styled text; each value is
    inserted as it is (never read as markup or emoji), in the style in effect where its ``{}`` stands.

    ``markup("[green]created[/] {} ({} runs)", path, 4)``. Literal braces in a template are doubled.
    """
    from rich.text import Text

    fields = {chr(FIELD + index): str(value) for index, value in enumerate(values)}
    styled = Text.from_markup(template.format(*fields), emoji=False)
    message = Text(style=styled.style)
    start = 0
    for offset, character in enumerate(styled.plain):
        if character in fields:
            message.append_text(styled[start:offset])
            value = Text(fields[character])
            for span in styled[offset].spans:
                value.stylize(span.style)
            message.append_text(value)
            start = offset + 1
    message.append_text(styled[start:])
    return message


def report_error(error: ExpsetError) -> None:
    """``error: …`` then ``hint: …`` on stderr; plain text, so no Rich import on the error path."""
    color = color_wanted(sys.stderr)
    red, dim, reset = ("\033[31m", "\033[2m", "\033[0m") if color else ("", "", "")
    problems = getattr(error, "problems", None) or [error.message]
    for problem in problems:
        sys.stderr.write(f"{red}error:{reset} {visible(problem)}\n")
    if error.hint:
        sys.stderr.write(f"{dim}hint:{reset} {visible(error.hint)}\n")


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)] if chr(code) not in "\n\t"}


def visible(text: str) -> str:
    """``text`` with control characters (an ESC from a plan value would steer the terminal) written as ``\\xNN``."""
    return text.translate(_CONTROL)


def status(template: str, *values: object) -> None:
    """A status line on stderr: ``template`` is Rich markup with a ``{}`` for each value (see ``markup``)."""
    stderr().print(markup(template, *values), soft_wrap=True)


def show_proposal(proposal: dict[str, Any]) -> None:
    """The proposal as a person reads it: path, convention token by token, runs, tree, files."""
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    out = stdout()
    out.print(markup("[bold]Experiment set[/]  {}", proposal["path"]), soft_wrap=True)
    out.print(markup("[dim]root from {}[/]", proposal["root_source"]), soft_wrap=True)
    out.print(markup("[bold]Purpose[/]  {}", proposal["purpose"]))
    out.print(markup("[bold]Author[/]  {}   [bold]Date[/]  {}", proposal["author"], proposal["date"]))
    out.print()

    convention = proposal["convention"]
    origin = "from naming.template" if convention["custom_template"] else "built from the varied parameters"
    out.print(markup("[bold]Naming convention[/]  [cyan]{}[/]  [dim]({})[/]", convention["template"], origin))
    tokens = Table(show_header=True, header_style="bold", box=None, padding=(0, 2, 0, 0))
    tokens.add_column("parameter")
    tokens.add_column("token ← value")
    tokens.add_column("rule", style="dim")
    for parameter in convention["parameters"]:
        tokens.add_row(Text(parameter["key"]), Text(describe_token(parameter)), Text(parameter["rule"]))
    out.print(tokens)
    example = convention["example"]
    decoded = ", ".join(f"{k}={format_value(v)}" for k, v in example["parameters"].items())
    out.print(markup("e.g. [cyan]{}[/] = {}", example["name"], decoded or "the single run"))
    if convention["fixed_not_in_names"]:
        out.print(markup("[dim]Fixed, so not in names: {}[/]", ", ".join(convention["fixed_not_in_names"])))
    if convention["shortened_names"]:
        out.print(
            markup(
                "[yellow]{} names exceed {} characters: they are cut and end in a short hash of the full name.[/]",
                convention["shortened_names"],
                convention["max_name_length"],
            )
        )
    out.print()

    runs = proposal["runs"]
    table = Table(title=Text(f"{len(runs)} runs"), title_justify="left", header_style="bold")
    table.add_column("run", style="cyan", overflow="fold")  # a narrow terminal folds a name, never cuts it
    keys = [p["key"] for p in convention["parameters"]]
    for key in keys:
        table.add_column(Text(key))
    for run in runs[:PREVIEW_RUNS]:
        table.add_row(Text(run["name"]), *(Text(format_value(run["parameters"][k])) for k in keys))
    if len(runs) > PREVIEW_RUNS:
        table.add_row(Text(f"… {len(runs) - PREVIEW_RUNS} more"), *(Text() for _ in keys))
    out.print(table)
    controls = proposal["controls"] + proposal["evaluation_only"]
    for run in proposal["evaluation_only"]:
        out.print(
            markup("[bold]evaluation-only[/] {}: {} (fine-tuned from {})", run["name"], run["source"], run["model"])
        )
    if proposal["controls"]:
        out.print(
            markup(
                "[bold]{} control run(s)[/], the untuned base models, evaluated only: {}",
                len(proposal["controls"]),
                ", ".join(f"{control['name']} ({format_value(control['model'])})" for control in proposal["controls"]),
            )
        )
    _show_training(out, proposal)
    out.print()

    tree = Tree(markup("[bold]{}/[/]", proposal["set_name"]))
    for file in proposal["files"][:-1]:
        tree.add(markup("{}  [dim]{}[/]", file["path"], file["purpose"]))
    shown = runs if len(runs) <= 4 else runs[:3]
    for run in shown:
        branch = tree.add(markup("[cyan]{}/[/]", run["name"]))
        branch.add(Text(RUN_FILE))
        evaluations = branch.add(Text(f"{EVALUATIONS_DIR}/"))
        for task in proposal["evaluations"]:
            evaluations.add(Text(f"{task}/"))
    hidden = len(runs) - len(shown)
    if hidden:
        tree.add(markup("[dim]… {} more run folders of the same shape[/]", hidden))
    if controls:
        tree.add(markup("[dim]… and {} evaluated only: {}[/]", len(controls), ", ".join(c["name"] for c in controls)))
    out.print(tree)
    out.print(
        markup(
            "[dim]{} folders and {} files will be written, all at once.[/]",
            proposal["folders"] + 1,
            len(proposal["files"]) - 1 + len(runs) + len(controls),
        )
    )


def _show_training(out: Any, proposal: dict[str, Any]) -> None:
    """How long the fine-tunes train, per group of runs alike; then the warnings and notes."""
    groups = proposal["training"]
    for group in groups:
        runs = group["runs"]
        which = (
            "every run"
            if len(groups) == 1
            else ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
        )
        steps = group["warmup_steps"]
        unknown = group["total_steps"] is None
        why = "" if group["warmup_planned"] else " (torchtune's)" if unknown else " (3% of the steps)"
        warmup = f"warm-up {steps} step{'' if steps == 1 else 's'}{why}"
        if group["total_steps"] is None:
            out.print(markup("[bold]Training[/] {}: {}; {}", which, group["dataset"], warmup), soft_wrap=True)
            continue
        out.print(
            markup(
                "[bold]Training[/] {}: {} samples of {} → {} optimizer steps per epoch, {} in all; {}",
                which,
                group["samples"],
                group["dataset"],
                group["steps_per_epoch"],
                group["total_steps"],
                warmup,
            ),
            soft_wrap=True,
        )
    for kept in proposal["checkpoints"]:
        out.print(markup("[bold]Checkpoints[/] {}", describe_checkpoints(kept)), soft_wrap=True)
    requested = proposal["requested"]
    if requested["gpu_hours"] is not None:
        disk = (
            _gigabytes(requested["merged_bytes"]) + " of merged weights"
            if requested["merged_bytes"]
            else "adapters only"
        )
        out.print(
            markup(
                "[bold]The set asks for[/] {} GPU-hours at most (every job's GPUs × time limit); checkpoints: {}",
                f"{requested['gpu_hours']:,.1f}",
                disk,
            ),
            soft_wrap=True,
        )
    for warning in proposal["warnings"]:
        every = len(warning["runs"]) == sum(len(group["runs"]) for group in groups) > 1
        which = "every run" if every else _some(warning["runs"])
        out.print(markup("[yellow]warning:[/] {}: {}", which, warning["warning"]), soft_wrap=True)
    for note in proposal["notes"]:
        out.print(markup("[dim]note: {}[/]", note), soft_wrap=True)


def describe_checkpoints(kept: dict[str, Any]) -> str:
    """``Llama-3.2-1B: the LoRA adapter at each of 2 epochs (megabytes); merged weights would add …``."""
    size = kept["merged_bytes_per_epoch"]
    about = "" if kept["measured"] else "about "
    epoch = (
        f"{about}{_gigabytes(size)} an epoch, {_gigabytes(kept['merged_bytes_per_run'])} a run"
        if size
        else "the model's size an epoch"
    )
    if kept["merged"]:
        return f"{kept['model']}: merged weights and the adapter at each of {kept['epochs']} epoch(s): {epoch}"
    return (
        f"{kept['model']}: the LoRA adapter at each of {kept['epochs']} epoch(s), megabytes; merged weights "
        f"(save_adapter_weights_only: false) would add {epoch}"
    )


def human_bytes(size: float) -> str:
    """A size as people read it: ``512 bytes``, ``3.4 MB``, ``12.0 GB`` (powers of 1000, as ``df -H``)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _gigabytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


def _some(runs: list[str]) -> str:
    """The first three runs by name, and how many more."""
    return ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")


def show_report(pivots: list[Any], gathered: Any, page: Any) -> None:
    """One table per task, the best cell marked, then what is missing and where the page is."""
    from rich.table import Table
    from rich.text import Text

    out = stdout()
    for table in pivots:
        after = f", after epoch {table.epoch}" if table.epoch is not None else ""
        view = Table(title=Text(visible(f"{table.task}: {table.metric}{after}")), title_justify="left")
        view.add_column(Text(visible(table.row_key + (f" \\ {table.column_key}" if table.column_key else ""))))
        for column in table.columns:
            header = format_value(column) if table.column_key else table.metric
            view.add_column(Text(visible(header)), justify="right")
        for row in table.rows:
            cells = []
            for column in table.columns:
                cell = table.cells.get((row, column))
                text = "—" if cell is None else f"{cell.mean:.3f}" + ("" if cell.single else f" ± {cell.std:.3f}")
                cells.append(
                    Text(
                        text + (" ★" if (row, column) == table.best else ""),
                        style="bold green" if (row, column) == table.best else "",
                    )
                )
            view.add_row(Text(visible(format_value(row)) if row is not None else ""), *cells)
        out.print(view)
    for missing in gathered.missing[:MISSING_ROWS]:
        status(
            "[yellow]missing[/] {} {} epoch {}: {}",
            missing.cell.run,
            missing.cell.task,
            missing.cell.epoch,
            missing.reason,
        )
    if len(gathered.missing) > MISSING_ROWS:
        status("[yellow]… and {} more missing[/] (all in report.md)", len(gathered.missing) - MISSING_ROWS)
    status("{} of {} runs complete; report: {}", gathered.complete_runs, len(gathered.runs), page)

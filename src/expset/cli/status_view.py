"""The status of a set in the terminal: its canaries, a table of its runs (those needing attention first),
why each failed run failed with the log to open and the command that resubmits it, and a summary line,
once or refreshed in place (``--watch``)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from expset.cli.console import markup, stdout
from expset.core.layout import epoch_dir

if TYPE_CHECKING:
    from rich.text import Text

    from expset.status import RunStatus

STATUS_ROWS = 50
"""Runs shown in the status table, those needing attention first; ``--json`` lists every run."""
FAILED_ROWS = 10
"""Failed runs whose reason and log are spelt out below the table."""


def show_status(current: Any, set_dir: Any) -> None:
    """The status table (runs needing attention first), a summary line, and how to compare runs."""
    out = stdout()
    out.print(_status_view(current, failures=False))
    for line in _failures_view(current):
        out.print(line, soft_wrap=True)  # paths and commands whole, to copy
    out.print(_compare_runs(set_dir), soft_wrap=True)


def watch_status(fetch: Any, interval: float, set_dir: Any) -> Any:
    """Refresh the status every ``interval`` seconds until no job is pending or running; return the last.

    In a terminal the table is redrawn in place with the time of the last refresh; otherwise one
    summary line per refresh is printed, and the whole table once at the end.
    """
    import time

    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    out = stdout()
    current = fetch()
    if not out.is_terminal:
        while not _settled(current):
            out.print(Text(f"{time.strftime('%H:%M:%S')}  {_summary_line(current)}"))
            time.sleep(interval)
            current = fetch()
        show_status(current, set_dir)
        return current

    def view() -> Group:
        return Group(_status_view(current, refreshed=True), _compare_runs(set_dir))

    with Live(view(), console=out, auto_refresh=False) as live:
        while not _settled(current):
            time.sleep(interval)
            current = fetch()
            live.update(view(), refresh=True)
    return current


def _settled(current: Any) -> bool:
    return not any(run.progress.value in ("running", "pending") for run in current.runs)


def _summary_line(current: Any) -> str:
    from expset.status import summary

    return " · ".join(f"{count} {name}" for name, count in summary(current.runs).items() if count) or "no runs"


def _status_view(current: Any, *, refreshed: bool = False, failures: bool = True) -> Any:
    import time

    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    colours = {"complete": "green", "running": "cyan", "pending": "yellow", "failed": "red", "lost": "red"}
    parts: list[Any] = [markup("[yellow]note:[/] {}", note) for note in current.notes]
    parts += _canaries_view(current)
    changed = [status.run for status in current.runs if status.setup_changed]
    if changed:
        parts.append(
            markup(
                "[yellow]note:[/] {} run(s) ran with a setup_finetune.yaml that has changed since, so their results "
                "are not those of the setup now there: {}",
                len(changed),
                ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""),
            )
        )
    table = Table(header_style="bold")
    table.add_column("run", overflow="fold")  # a narrow terminal folds a name, never cuts it
    for column in ("state", "fine-tune", "epochs on disk", "evaluations"):
        table.add_column(column)
    statuses = current.runs
    attention_first = sorted(statuses, key=lambda status: status.progress.value == "complete")
    for status in attention_first[:STATUS_ROWS]:
        colour = colours.get(status.progress.value, "dim")
        evaluations = ", ".join(f"{e.task}@{e.epoch}: {e.result or e.job.value}" for e in status.evaluations)
        table.add_row(
            Text(status.run),
            Text(status.progress.value + (" (setup changed since)" if status.setup_changed else ""), style=colour),
            Text(
                f"{status.kind}: no fine-tune"
                if status.finetune is None
                else f"{status.finetune.value}" + (f" ({status.job_id})" if status.job_id else "")
            ),
            Text(_epochs_text(status)),
            Text(evaluations or "-"),
        )
    if len(statuses) > STATUS_ROWS:
        table.add_row(Text(f"… {len(statuses) - STATUS_ROWS} more"), "", "", "", Text("all runs: --json"))
    parts.append(table)
    if failures:
        parts.extend(_failures_view(current))
    line = Text(_summary_line(current))
    if refreshed:
        line.append_text(
            markup("   [dim](updated {}; Ctrl-C stops watching, not the jobs)[/]", time.strftime("%H:%M:%S"))
        )
    parts.append(line)
    return Group(*parts)


def _canaries_view(current: Any) -> list[Any]:
    """A line per canary: under way (the set waits), passed, or failed with its reason and log."""
    lines = []
    for canary in getattr(current, "canaries", []):
        state = canary.progress.value
        if state == "complete":
            lines.append(markup("[green]canary[/] {}: passed", canary.run))
        elif state in ("failed", "lost"):
            lines.append(
                markup(
                    "[red]canary[/] {} failed: {} — the jobs held for it were cancelled (log: {}); fix it, then "
                    "`expset submit {} --canary --resubmit`",
                    canary.run,
                    canary.failure or state,
                    current.set_dir / (canary.output or canary.run),
                    current.set_dir,
                )
            )
        else:
            lines.append(
                markup("[cyan]canary[/] {}: {} — the rest of the set is held until it passes", canary.run, state)
            )
    return lines


def _failures_view(current: Any) -> list[Any]:
    """Each failed run's reason and the log to open, then the command that resubmits them, one per fix."""
    failed = [status for status in current.runs if status.failure and status.progress.value in ("failed", "lost")]
    if not failed:
        return []
    lines = []
    for status in failed[:FAILED_ROWS]:
        lines.append(markup("[red]failed[/] {}: {}", status.run, status.failure))
        if status.output:
            lines.append(markup("  [dim]log:[/] {}", current.set_dir / status.output))
    if len(failed) > FAILED_ROWS:
        lines.append(markup("… and {} more failed runs (all of them: --json)", len(failed) - FAILED_ROWS))
    by_fix: dict[str | None, list[str]] = {}
    for status in failed:
        by_fix.setdefault(status.fix, []).append(status.run)
    canaries = bool(getattr(current, "canaries", []))
    for fix, runs in by_fix.items():
        command = ["expset", "submit", str(current.set_dir), "--runs", ",".join(runs), "--resubmit"]
        command += ["--fix", fix] if fix else []
        command += ["--canary"] if canaries else []  # held for a canary before: held for one again
        lines.append(markup("resubmit: [bold]{}[/]", shlex.join(command)))
    return lines


def _compare_runs(set_dir: Any) -> Text:
    """Where the evaluation logs are, and the commands that compare them (the set's path printed whole)."""
    return markup(
        "[dim]Evaluation logs live in each run's evaluations/ folder; compare them across runs with "
        "`inspect view --log-dir {}` (or `inspect log list --log-dir {}`).[/]",
        set_dir,
        set_dir,
    )


def _epochs_text(status: RunStatus) -> str:
    """The epochs on disk, and those ``expset clean`` removed: a checkpoint cleaned is not one missing."""
    shown = " ".join(epoch_dir(n) for n in status.epochs_on_disk) or "-"
    if status.epochs_cleaned:
        shown += f" ({' '.join(epoch_dir(n) for n in status.epochs_cleaned)} cleaned)"
    return shown

"""The status table of a large set: the runs that need attention come first, the rest are counted."""

import io

from rich.console import Console

from expset.cli import status_view
from expset.core.jobs import JobState
from expset.status import Progress, RunStatus, SetStatus


def test_a_large_set_shows_failures_first_and_counts_the_rest(monkeypatch):
    statuses = [
        RunStatus(f"run{i}", "fine-tuned", Progress.COMPLETE, JobState.COMPLETED, str(i), [0]) for i in range(200)
    ]
    statuses[150] = RunStatus("run150", "fine-tuned", Progress.FAILED, JobState.FAILED, "150", [])
    screen = io.StringIO()
    monkeypatch.setattr(status_view, "stdout", lambda: Console(file=screen, width=120))
    status_view.show_status(SetStatus(statuses, []), "set")
    rows = [line for line in screen.getvalue().splitlines() if line.startswith("│")]
    assert rows[0].startswith("│ run150 ")
    assert len(rows) == status_view.STATUS_ROWS + 1
    assert f"… {200 - status_view.STATUS_ROWS} more" in rows[-1] and "--json" in rows[-1]


def watched(monkeypatch, terminal: bool) -> str:
    states = iter([Progress.PENDING, Progress.RUNNING, Progress.COMPLETE])
    screen = io.StringIO()
    monkeypatch.setattr(status_view, "stdout", lambda: Console(file=screen, width=100, force_terminal=terminal))

    def fetch():
        progress = next(states)
        return SetStatus([RunStatus("run0", "fine-tuned", progress, JobState.RUNNING, "1", [])], [])

    final = status_view.watch_status(fetch, 0.01, "set")
    assert final.runs[0].progress is Progress.COMPLETE
    return screen.getvalue()


def test_watching_in_a_terminal_redraws_the_table_in_place(monkeypatch):
    screen = watched(monkeypatch, terminal=True)
    assert "\x1b[1A" in screen or "\x1b[2K" in screen  # the cursor goes back up over the last table
    assert "updated" in screen and "1 complete" in screen


def test_watching_without_a_terminal_prints_a_line_per_refresh_and_the_table_once(monkeypatch):
    screen = watched(monkeypatch, terminal=False)
    assert "\x1b[" not in screen
    lines = screen.splitlines()
    assert lines[0].endswith("1 pending") and lines[1].endswith("1 running")
    assert screen.count("┃ run ") == 1 and "1 complete" in screen

"""The status table of a large set: the runs that need attention come first, the rest are counted."""

import io

from rich.console import Console

from expset.core.status import JobState
from expset.status import Progress, RunStatus
from expset.ui import console


def test_a_large_set_shows_failures_first_and_counts_the_rest(monkeypatch):
    statuses = [RunStatus(f"run{i}", Progress.COMPLETE, JobState.COMPLETED, str(i), [0]) for i in range(200)]
    statuses[150] = RunStatus("run150", Progress.FAILED, JobState.FAILED, "150", [])
    screen = io.StringIO()
    monkeypatch.setattr(console, "stdout", lambda: Console(file=screen, width=120))
    console.show_status(statuses, {"complete": 199, "failed": 1}, "set")
    rows = [line for line in screen.getvalue().splitlines() if line.startswith("│")]
    assert rows[0].startswith("│ run150 ")
    assert len(rows) == console.STATUS_ROWS + 1
    assert f"… {200 - console.STATUS_ROWS} more" in rows[-1] and "--json" in rows[-1]

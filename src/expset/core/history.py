"""What happened to a set after ``create``, as ``expset.yaml`` keeps it: one entry per change. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expset.errors import RecordError

EXTENDED, REMOVED = "extended", "removed"
"""The changes a set's history records: runs added (``expset extend``), runs removed (``expset remove``)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One change to a set: when, by whom, what (one line), and the runs it added or removed."""

    date: str
    author: str
    change: str
    summary: str
    runs: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        """The entry as ``expset.yaml`` stores it."""
        return {
            "date": self.date,
            "author": self.author,
            "change": self.change,
            "summary": self.summary,
            "runs": list(self.runs),
        }


def history_from_data(data: Any) -> tuple[HistoryEntry, ...]:
    """The entries a record's ``history`` holds; raise ``RecordError`` for a malformed one."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise RecordError("expset.yaml: history is not a list")
    entries = []
    for index, item in enumerate(data):
        try:
            entries.append(
                HistoryEntry(
                    date=str(item["date"]),
                    author=str(item["author"]),
                    change=str(item["change"]),
                    summary=str(item["summary"]),
                    runs=tuple(str(run) for run in item.get("runs", [])),
                )
            )
        except (KeyError, TypeError, AttributeError):
            raise RecordError(f"expset.yaml: history[{index}] is missing date, author, change or summary") from None
    return tuple(entries)

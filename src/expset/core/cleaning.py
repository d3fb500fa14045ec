"""Which checkpoint folders ``expset clean`` removes, as plain data. Pure: what is on disk, which epochs have a
successful evaluation and whether the fine-tune finished go in; the epochs to remove and kept, and why, come out.

A fine-tune that has not finished (failed, cancelled, lost, never submitted here) may be submitted again, and
its job then resumes from its highest epoch with torchtune's recipe state, which records how far training got.
Removing that highest epoch alone would make the job resume from an older epoch with a newer recipe state,
silently skipping epochs; so every choice keeps it, except ``all``, which leaves no epoch and so makes the
job start over (said in a note).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class CheckpointChoice(str, Enum):
    """What ``--checkpoints`` removes."""

    EXCEPT_LAST = "except-last"
    EXCEPT_EVALUATED = "except-evaluated"
    ALL = "all"


CHOICE_HELP = {
    CheckpointChoice.EXCEPT_LAST: "every epoch but each run's highest",
    CheckpointChoice.EXCEPT_EVALUATED: "every epoch no evaluation succeeded on (those the results come from stay)",
    CheckpointChoice.ALL: "every epoch",
}


@dataclass(frozen=True)
class Checkpoints:
    """The checkpoint folders of one place (a run folder, or its canary's), and what decides their fate."""

    epochs: tuple[int, ...]  # the epoch_N folders on disk
    evaluated: frozenset[int] = frozenset()  # epochs with a successful evaluation record
    finished: bool = True  # the fine-tune completed: no job will resume from these epochs


@dataclass(frozen=True)
class Choice:
    """The epochs to remove from one place, those kept, and a note when the choice touches a resume."""

    remove: tuple[int, ...]
    keep: tuple[int, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def choose(choice: CheckpointChoice, found: Checkpoints) -> Choice:
    """The epochs ``choice`` removes from ``found``; see the module's docstring for an unfinished fine-tune."""
    epochs = sorted(set(found.epochs))
    if not epochs:
        return Choice((), ())
    highest = epochs[-1]
    notes: list[str] = []
    if choice is CheckpointChoice.ALL:
        keep: set[int] = set()
        if not found.finished:
            notes.append("its fine-tune has not finished: submitted again, it starts over from the first epoch")
    elif choice is CheckpointChoice.EXCEPT_LAST:
        keep = {highest}
    else:
        keep = set(found.evaluated) & set(epochs)
        if not found.finished and highest not in keep:
            keep.add(highest)
            notes.append(f"epoch_{highest} kept: its fine-tune has not finished and resumes from it")
    return Choice(
        remove=tuple(epoch for epoch in epochs if epoch not in keep),
        keep=tuple(epoch for epoch in epochs if epoch in keep),
        notes=tuple(notes),
    )

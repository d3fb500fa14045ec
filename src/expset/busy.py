"""Whether runs may be touched on disk: none of their jobs pending, running, or in a state nobody can tell.

One rule for every command that deletes a run's files (``remove``, ``clean``, an archive's
``--remove-after-verify``): a job that may still write into a run's folder keeps the folder whole. Call
it under the set's lock (``fs.set_lock``), so that no submit queues a job meanwhile.
"""

from __future__ import annotations

from pathlib import Path

from expset import ledger
from expset.core.jobs import JobState
from expset.errors import BusyError, SubmitError
from expset.slurm.client import SlurmClient
from expset.tracking import Tracked, track


def refuse_busy(
    set_dir: Path, recorded: set[str], chosen: set[str], client: SlurmClient, *, done: str, hint: str
) -> Tracked:
    """The set's jobs, tracked; ``BusyError`` naming the ``chosen`` runs with a job pending, running or in a state
    nobody can tell, or when SLURM does not answer while any of them had a job. ``recorded`` are every run the
    set records, folders deleted by hand included (their jobs may run on). ``done`` ends the refusal
    ("nothing was removed"); ``hint`` says what to do."""
    tracked = track(set_dir, recorded, client)
    if any(run in chosen for run, _ in tracked.history) or any(run in chosen for run, _ in tracked.unresolved):
        failure = tracked.slurm.failure
        if isinstance(failure, SubmitError):  # SLURM is there and did not answer
            raise BusyError(
                f"squeue did not answer, so whether these runs' jobs still run cannot be told; {done}",
                hint="try again when SLURM answers",
            )
        tracked.slurm.require_answer()  # SLURM's commands missing: said as every command says it
    ledger.append(set_dir, tracked.events)
    busy = busy_runs(tracked, chosen)
    if busy:
        names = ", ".join(busy[:10]) + (f" and {len(busy) - 10} more" if len(busy) > 10 else "")
        verb = "has" if len(busy) == 1 else "have"
        raise BusyError(f"{names} {verb} jobs pending or running (or in a state SLURM cannot tell); {done}", hint=hint)
    return tracked


def busy_runs(tracked: Tracked, chosen: set[str]) -> list[str]:
    """The chosen runs with a job queued or running, or whose job nobody can place. Every attempt counts, not
    only the newest: an older one may still run."""
    busy = {run for run, _ in tracked.unresolved if run in chosen}
    for (run, _), jobs in tracked.history.items():
        states = [tracked.states.get(job.job_id or "", JobState.UNKNOWN) for job in jobs]
        if any(state.active or state is JobState.UNKNOWN for state in states):
            busy.add(run)
    return sorted(busy & chosen)

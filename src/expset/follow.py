"""``submit --follow``: keep submitting as slots free up, until every chosen run is submitted.

Each round is one ordinary ``submit`` (one ``squeue``, the set's lock held only while it submits), so a
follow can be stopped at any moment — Ctrl-C, a closed terminal, a killed ``nohup`` — and started again:
what went through is recorded, and the next round submits only what is left. Slots are those
``--max-jobs`` leaves, or those SLURM's own per-user job limit does (it refuses the job over it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from expset.errors import BusyError, SubmitError
from expset.submit import SubmitReport


def follow(
    submit_once: Callable[[], SubmitReport],
    *,
    poll: float,
    on_round: Callable[[SubmitReport], None],
    on_wait: Callable[[str], None],
    stopped: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] | None = None,
) -> SubmitReport | None:
    """Run ``submit_once`` every ``poll`` seconds until no run is left for later; the last round's report,
    or None when ``stopped`` said, before a round, that the follow must end (the set's jobs were cancelled).

    A round that meets another ``submit`` of the set waits for it. A job limit SLURM enforces while none
    of this set's jobs is queued would never free a slot: that ends the follow with the reason.
    """
    while True:
        if stopped():
            return None
        try:
            report = submit_once()
        except BusyError as busy:
            on_wait(busy.message)
            (sleep or time.sleep)(poll)
            continue
        on_round(report)
        if report.error is not None or not report.left:
            return report
        queued = report.jobs.get("pending", 0) + report.jobs.get("running", 0)
        if report.limit is not None and not queued and not report.submitted:
            raise SubmitError(
                f"SLURM refuses this set's jobs although none of them is queued: {report.limit}",
                hint="your other jobs fill the cluster's job limit; submit again once they end",
            )
        (sleep or time.sleep)(poll)

"""``submit --resubmit --fix oom|mem|time``: mend failed fine-tunes' setups before they go again.

Each chosen run's ``setup_finetune.yaml`` is edited in place (see ``core.fixes``), its config and
scripts are scaffolded again from it, and the change is recorded in the ledger. The edit is a
deviation from the plan like any other, so the run's records say so. Runs are fixed only when they
failed for the reason the fix mends, unless named with ``--runs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expset import ledger
from expset.core.fixes import Change, edit_setup, halved_batch, longer_time, more_memory
from expset.core.layout import FINETUNE_STEP, SETUP_FILE
from expset.core.naming import FINE_TUNED, ExperimentSet
from expset.sets import parse_setup, read_setup
from expset.slurm.client import SlurmClient
from expset.tracking import FAILED_STATES, Tracked, job_failure


@dataclass
class FixReport:
    """What a fix changed, per run, and the failed runs it left alone and why."""

    changed: dict[str, list[Change]] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)


def fix_failed_runs(
    experiment_set: ExperimentSet,
    set_dir: Path,
    tracked: Tracked,
    fix: str,
    *,
    named: list[str] | None,
    profile: Any,
    client: SlurmClient,
) -> FixReport:
    """Apply ``fix`` to the failed fine-tunes among the chosen runs; every setup is checked before any is written."""
    from expset.core.site_settings import merge_site
    from expset.fs.inside import write_file

    report = FixReport()
    varied = set(experiment_set.plan.vary)
    wanted = set(named) if named else None
    fixed_at: dict[str, int] = {}  # run → the ledger line of the last fix of its setup
    for note in ledger.read(set_dir).notes:
        if note["event"] == "fixed":
            fixed_at[note["run"]] = max(fixed_at.get(note["run"], 0), note["line"])
    edits: dict[str, str] = {}
    originals: dict[str, str] = {}
    longest: dict[str | None, str | None] = {}
    for run in experiment_set.all_runs:
        if run.kind != FINE_TUNED or (wanted is not None and run.name not in wanted):
            continue
        job = tracked.current(run.name, FINETUNE_STEP)
        if job is None or tracked.state(run.name, FINETUNE_STEP) not in FAILED_STATES:
            continue
        if fixed_at.get(run.name, 0) > job.line:  # fixed since this job was submitted: it goes as it is
            report.left[run.name] = "its setup was fixed after its last job failed; it goes again as it is now"
            continue
        failure = job_failure(set_dir / run.name, FINETUNE_STEP, job.job_id or "", tracked)
        if wanted is None and failure.fix != fix:
            report.left[run.name] = f"failed for another reason ({failure.describe()}); resubmitted unchanged"
            continue
        path = set_dir / run.name / SETUP_FILE
        setup = read_setup(path)
        if fix == "oom":
            changes = halved_batch(
                run.name, setup.training.batch_size, setup.training.gradient_accumulation_steps, varied
            )
        elif fix == "mem":
            changes = more_memory(run.name, setup.resources.mem)
        else:
            partition = setup.slurm.partition
            if partition not in longest:
                site = merge_site(profile, experiment_set.plan.site)
                longest[partition] = site.max_time or client.partition_time_limit(partition)
            changes = longer_time(run.name, setup.resources.time, longest[partition])
        originals[run.name] = path.read_text(encoding="utf-8")
        text = edit_setup(originals[run.name], changes)
        parse_setup(text, path)  # the edited file must still be a setup, or nothing is written
        edits[run.name] = text
        report.changed[run.name] = changes
    if not edits:
        return report
    try:
        for run_name, text in edits.items():
            write_file(set_dir, f"{run_name}/{SETUP_FILE}", text)  # never through a link
        _scaffold_again(experiment_set, set_dir, sorted(edits), profile)
    except BaseException:  # a conflict, Ctrl-C: the setups go back to what they were, so none is half-fixed
        for run_name, text in originals.items():
            write_file(set_dir, f"{run_name}/{SETUP_FILE}", text)
        raise
    ledger.append(set_dir, [ledger.fixed(run, fix, [c.describe() for c in report.changed[run]]) for run in edits])
    return report


def _scaffold_again(experiment_set: ExperimentSet, set_dir: Path, runs: list[str], profile: Any) -> None:
    """The fixed runs' config and job scripts, written again from their edited setups."""
    from expset.scaffold import apply, scaffold_set

    plan = scaffold_set(experiment_set, set_dir, profile=profile, runs=runs)
    apply(plan.writes, set_dir)

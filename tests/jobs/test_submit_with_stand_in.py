"""``submit`` against a stand-in for SLURM's commands: refusals half-way through a run and of a later run,
Ctrl-C between two ``sbatch`` calls, a job cap, resubmission, a controller that cannot be reached.
Every job the stand-in accepted is accounted for exactly once."""

from __future__ import annotations

import pytest

from expset.errors import ExpsetError, SubmitError
from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.slurm.runner import Completed
from expset.status import set_status
from expset.submit import submit_set

from fake_slurm import FakeSlurm, refusal
from site_helpers import expset


@pytest.fixture
def set_dir(site):
    created = site.create()
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def submit(set_dir, slurm, **options):
    return submit_set(load_set(set_dir), set_dir, SlurmClient(slurm), **options)


def test_a_refusal_half_way_through_a_run_cancels_what_went_through_and_records_no_job(set_dir):
    slurm = FakeSlurm(on_sbatch=lambda n, argv: refusal(argv) if n == 2 else None)
    report = submit(set_dir, slurm)
    assert isinstance(report.error, SubmitError) and "Invalid account" in report.error.message
    assert slurm.live_scripts() == [] and ["scancel", "101"] in slurm.calls
    statuses = set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs
    assert {status.progress.value for status in statuses} == {"not submitted"}


def test_a_job_slurm_queued_although_sbatch_timed_out_is_found_and_not_queued_again(set_dir):
    def queued_but_timed_out(n, argv):
        if n == 1:
            slurm.accept(argv)
            return Completed(tuple(argv), 124, "", "sbatch did not answer within 120 s")
        return None

    slurm = FakeSlurm(on_sbatch=queued_but_timed_out)
    assert submit(set_dir, slurm).error is not None
    slurm.on_sbatch = None
    again = submit(set_dir, slurm)
    assert any("recovered job 101" in note for note in again.notes)
    scripts = slurm.live_scripts()
    assert len(scripts) == len(set(scripts)) == 4 * 4


def test_ctrl_c_between_two_sbatch_calls_loses_no_job_and_queues_none_twice(set_dir):
    def interrupt(n, argv):
        if n == 3:
            raise KeyboardInterrupt

    slurm = FakeSlurm(on_sbatch=interrupt)
    with pytest.raises(KeyboardInterrupt):
        submit(set_dir, slurm)
    assert len(slurm.jobs) == 2
    slurm.on_sbatch = None
    report = submit(set_dir, slurm)
    scripts = slurm.live_scripts()
    assert len(scripts) == len(set(scripts)) == 4 * 4  # four runs of four jobs, each once
    assert report.skipped == {} and len(report.submitted) == 4


def test_a_job_cap_leaves_whole_runs_for_a_later_submit(set_dir):
    slurm = FakeSlurm()
    report = submit(set_dir, slurm, max_jobs=9)
    assert list(report.submitted) == ["1B_rank8", "1B_rank16"] and report.left == ["3B_rank8", "3B_rank16"]
    for job in slurm.jobs.values():
        job.state = "COMPLETED"
    later = submit(set_dir, slurm, max_jobs=9)
    assert list(later.submitted) == ["3B_rank8", "3B_rank16"]


def test_submitting_again_submits_nothing_and_says_why(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm)
    again = submit(set_dir, slurm)
    assert again.submitted == {} and set(again.skipped.values()) == {"fine-tune pending"}


def finish_every_job(set_dir, slurm):
    """Each job leaves the record the real scripts leave, as if it had run and succeeded."""
    from expset.core.layout import job_record

    for job in slurm.jobs.values():
        _, _, _, step, run = job.comment.split(":", 4)
        record = set_dir / run / job_record(step, job.job_id)
        record.write_text(f'{{"job": "{job.job_id}", "exit_code": 0, "status": "success", "log": "x.eval"}}')
        job.state = "COMPLETED"


def test_a_finished_set_whose_ledger_was_emptied_is_complete_and_submits_nothing_again(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm)
    finish_every_job(set_dir, slurm)
    accepted = len(slurm.jobs)
    slurm.jobs.clear()  # SLURM has forgotten them
    (set_dir / ".expset" / "jobs.jsonl").write_text("")
    statuses = set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs
    assert {status.progress.value for status in statuses} == {"complete"}
    again = submit(set_dir, slurm)
    assert again.submitted == {} and sum("recovered job" in note for note in again.notes) == accepted


def test_a_copy_made_while_jobs_run_does_not_claim_the_originals_jobs(set_dir, site):
    import shutil

    slurm = FakeSlurm()
    submit(set_dir, slurm)
    copy = site.root / "copy"
    shutil.copytree(set_dir, copy, symlinks=True)
    assert expset("scaffold", str(copy)).exit_code == 0
    copied = set_status(load_set(copy), copy, SlurmClient(slurm))
    assert {status.progress.value for status in copied.runs} == {"lost"}
    assert any("run for another folder" in note for note in copied.notes)
    original = set_status(load_set(set_dir), set_dir, SlurmClient(slurm))
    assert {status.progress.value for status in original.runs} == {"pending"} and original.notes == []


def test_a_set_reached_through_a_linked_path_is_not_taken_for_a_moved_one(set_dir, site):
    link = site.root / "linked"
    link.symlink_to(set_dir)
    assert expset("scaffold", str(link)).exit_code == 0
    assert expset("submit", str(set_dir), "--dry-run").exit_code == 0


def test_a_job_recovered_from_its_record_after_damage_is_not_taken_for_the_newest(set_dir):
    import json

    slurm = FakeSlurm()
    submit(set_dir, slurm)
    (set_dir / "1B_rank8" / "logs" / "finetune.job101.json").write_text('{"job": "101", "exit_code": 1}')
    del slurm.jobs["101"]  # it failed, and SLURM has forgotten it
    submit(set_dir, slurm, resubmit=True, runs=["1B_rank8"])
    ledger_file = set_dir / ".expset" / "jobs.jsonl"
    lines = ledger_file.read_text().splitlines()
    first_token = json.loads(lines[0])["token"]  # the intent of job 101, and its submission, are lost
    kept = [line for line in lines if first_token not in line]
    ledger_file.write_text("\n".join(kept) + '\n{"torn')
    [run] = [r for r in set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs if r.run == "1B_rank8"]
    assert run.progress.value == "pending" and run.job_id != "101"


def test_a_refusal_of_a_later_run_keeps_the_runs_that_went_through(set_dir):
    slurm = FakeSlurm(on_sbatch=lambda n, argv: refusal(argv) if n == 5 else None)  # the second run's fine-tune
    report = submit(set_dir, slurm)
    assert list(report.submitted) == ["1B_rank8"] and isinstance(report.error, SubmitError)
    assert len(slurm.live_scripts()) == 4
    statuses = {s.run: s.progress.value for s in set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs}
    assert statuses == {"1B_rank8": "pending", "1B_rank16": "not submitted", "3B_rank8": "not submitted"} | {
        "3B_rank16": "not submitted"
    }


def test_a_failed_evaluation_goes_again_only_with_resubmit_and_alone(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm)
    finish_every_job(set_dir, slurm)
    [failed] = [job for job in slurm.jobs.values() if job.comment.endswith(":evaluate/arithmetic/epoch_1:1B_rank8")]
    failed.state = "FAILED"
    plain = submit(set_dir, slurm)
    assert plain.submitted == {} and "--resubmit" in plain.skipped["1B_rank8"]
    again = submit(set_dir, slurm, resubmit=True)
    [(run, [job])] = again.submitted.items()
    assert (run, job.step, job.after) == ("1B_rank8", "evaluate/arithmetic/epoch_1", None)
    sbatch = slurm.calls[-1]
    assert sbatch[0] == "sbatch" and not any(a.startswith("--dependency") for a in sbatch)


def test_while_slurm_cannot_be_asked_nothing_is_submitted_and_nothing_is_guessed(set_dir):
    slurm = FakeSlurm()
    submit(set_dir, slurm)
    calls = len(slurm.calls)
    unreachable = Completed(("squeue",), 1, "", "slurm_load_jobs error: Unable to contact slurm controller")
    slurm.on_squeue = lambda argv: unreachable
    with pytest.raises(ExpsetError) as refused:
        submit(set_dir, slurm)
    assert "Unable to contact slurm controller" in refused.value.message
    dry = submit(set_dir, slurm, dry_run=True, resubmit=True)
    assert dry.commands == [] and all("unknown" in reason for reason in dry.skipped.values())
    assert not [call for call in slurm.calls[calls:] if call[0] == "sbatch"]


def test_ctrl_c_during_submit_says_how_many_runs_went_through(set_dir, monkeypatch):
    slurm = FakeSlurm(on_sbatch=lambda n, argv: (_ for _ in ()).throw(KeyboardInterrupt) if n == 6 else None)
    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", lambda: slurm)
    result = expset("submit", str(set_dir))
    assert result.exit_code == 130
    assert result.stderr == (
        "interrupted; the jobs of 1 run(s) were submitted; every job that went through is recorded, "
        "so submit again to submit the rest\n"
    )


def test_ctrl_c_during_scaffold_says_how_many_file_changes_were_made(site, monkeypatch):
    from expset.fs import inside

    set_dir = site.create()
    real_write = inside.write_file
    writes = []

    def write_then_stop(*args):
        if len(writes) == 3:
            raise KeyboardInterrupt
        if not args[1].startswith(".expset/"):  # expset's own records are not the set's files
            writes.append(args)
        real_write(*args)

    monkeypatch.setattr(inside, "write_file", write_then_stop)
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 130
    assert result.stderr.startswith("interrupted; 3 of the 28 file changes were made, each file whole"), result.stderr

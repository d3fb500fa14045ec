"""What a researcher does after a job fails, against a stand-in for SLURM's commands that answers in
their own formats (the real-cluster tests in tests/e2e are the proof): the reason and the log, the
command that resubmits, ``--fix oom|time``, ``cancel``, ``--rerun`` and ``--follow`` under a job limit."""

from __future__ import annotations

import json

import pytest

from expset.core.layout import LEDGER_FILE, job_record
from expset.errors import SubmitError
from expset.follow import follow
from expset.sets import load_set, read_setup
from expset.slurm.client import SlurmClient
from expset.slurm.runner import Completed
from expset.submit import submit_set

from fake_slurm import FakeSlurm
from site_helpers import expset

TIME_LIMIT = "slurmstepd: error: *** JOB 101 ON gpu017 CANCELLED AT 2026-11-30T01:02:03 DUE TO TIME LIMIT ***\n"
CUDA_OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity\n"


@pytest.fixture
def set_dir(site):
    created = site.create()
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def fine_tune_of(slurm: FakeSlurm, run: str):
    """The run's newest fine-tune job."""
    return [job for job in slurm.jobs.values() if job.comment.endswith(f":finetune:{run}")][-1]


def fail(set_dir, slurm: FakeSlurm, run: str, state: str, output: str = "") -> str:
    """The run's fine-tune ended as ``state`` (its evaluations cancelled), having printed ``output``."""
    job = fine_tune_of(slurm, run)
    job.state = state
    for other in slurm.jobs.values():
        if other.comment.endswith(f":{run}") and other is not job:
            other.state = "CANCELLED"
    (set_dir / run / "logs" / f"finetune-{job.job_id}.out").write_text(output)
    return job.job_id


def ledger_events(set_dir, kind: str) -> list[dict]:
    lines = (set_dir / LEDGER_FILE).read_text().splitlines()
    return [event for event in map(json.loads, lines) if event["event"] == kind]


def test_status_names_why_a_fine_tune_failed_the_log_to_open_and_the_command_that_mends_it(set_dir, slurm):
    assert expset("submit", str(set_dir)).exit_code == 0
    job_id = fail(set_dir, slurm, "1B_rank8", "TIMEOUT")
    result = expset("status", str(set_dir))
    assert "failed 1B_rank8: time limit: killed at its time limit" in result.stdout
    assert f"log: {set_dir}/1B_rank8/logs/finetune-{job_id}.out" in result.stdout
    assert f"resubmit: expset submit {set_dir} --runs 1B_rank8 --resubmit --fix time" in result.stdout


def test_a_failure_slurm_calls_plain_failed_is_named_from_the_jobs_output(set_dir, slurm):
    expset("submit", str(set_dir))
    fail(set_dir, slurm, "3B_rank16", "FAILED", CUDA_OOM)
    document = json.loads(expset("status", str(set_dir), "--json").stdout)
    [run] = [run for run in document["runs"] if run["run"] == "3B_rank16"]
    assert run["failure"].startswith("out of GPU memory: CUDA out of memory") and run["fix"] == "oom"
    assert run["output"] == f"3B_rank16/logs/finetune-{run['job_id']}.out"


def test_submit_says_which_runs_it_left_because_they_failed_and_exits_7(set_dir, slurm):
    expset("submit", str(set_dir))
    fail(set_dir, slurm, "1B_rank8", "FAILED")
    result = expset("submit", str(set_dir))
    assert result.exit_code == 7
    assert "1 run(s) were not submitted because jobs of theirs failed: 1B_rank8" in " ".join(result.stderr.split())


def test_fix_oom_halves_the_batch_doubles_accumulation_and_records_the_change(set_dir, slurm):
    expset("submit", str(set_dir))
    fail(set_dir, slurm, "1B_rank8", "FAILED", CUDA_OOM)
    fail(set_dir, slurm, "3B_rank8", "TIMEOUT")
    before = (set_dir / "1B_rank8" / "setup_finetune.yaml").read_text()
    result = expset("submit", str(set_dir), "--resubmit", "--fix", "oom")
    assert result.exit_code == 0, result.stderr
    setup = read_setup(set_dir / "1B_rank8" / "setup_finetune.yaml")
    assert (setup.training.batch_size, setup.training.gradient_accumulation_steps) == (2, 2)
    after = (set_dir / "1B_rank8" / "setup_finetune.yaml").read_text()
    assert [line for line in before.splitlines() if line not in after.splitlines()] == [
        "  batch_size: 4",
        "  gradient_accumulation_steps: 1",
    ]  # every other line, comments included, as it was
    config = (set_dir / "1B_rank8" / "finetune.yaml").read_text()
    assert "batch_size: 2\n" in config and "gradient_accumulation_steps: 2\n" in config
    assert read_setup(set_dir / "3B_rank8" / "setup_finetune.yaml").training.batch_size == 4  # it ran out of time
    [fixed] = ledger_events(set_dir, "fixed")
    assert (fixed["run"], fixed["fix"]) == ("1B_rank8", "oom")
    assert "fixed 1B_rank8: training.batch_size 4 → 2, training.gradient_accumulation_steps 1 → 2" in result.stderr
    assert "1B_rank8" in result.stderr and "3B_rank8" in result.stderr  # both went again


def test_fix_time_doubles_the_time_limit_up_to_the_profiles_longest(set_dir, slurm, site):
    expset("submit", str(set_dir))
    fail(set_dir, slurm, "1B_rank8", "TIMEOUT")
    site.profile.write_text(site.profile.read_text() + 'max_time = "01:30:00"\n')
    assert expset("submit", str(set_dir), "--resubmit", "--fix", "time").exit_code == 0
    assert read_setup(set_dir / "1B_rank8" / "setup_finetune.yaml").resources.time == "01:30:00"
    assert "#SBATCH --time=01:30:00" in (set_dir / "1B_rank8" / "finetune.slurm").read_text()
    fail(set_dir, slurm, "1B_rank8", "TIMEOUT")
    again = expset("submit", str(set_dir), "--resubmit", "--fix", "time")
    assert again.exit_code == 2
    assert "its time limit 01:30:00 is already the longest allowed (01:30:00)" in " ".join(again.stderr.split())


def test_fix_oom_refuses_a_batch_size_the_set_varies(site, slurm):
    set_dir = site.create(vary={"batch_size": [4, 8]}, fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words"})
    expset("scaffold", str(set_dir))
    expset("submit", str(set_dir))
    fail(set_dir, slurm, "bs4", "FAILED", CUDA_OOM)
    result = expset("submit", str(set_dir), "--resubmit", "--fix", "oom")
    assert result.exit_code == 2 and "which this set varies" in result.stderr
    assert read_setup(set_dir / "bs4" / "setup_finetune.yaml").training.batch_size == 4
    assert ledger_events(set_dir, "fixed") == []


def test_fix_needs_resubmit_and_a_fix_expset_knows(set_dir, slurm):
    alone = expset("submit", str(set_dir), "--fix", "oom")
    unknown = expset("submit", str(set_dir), "--resubmit", "--fix", "memory")
    assert (alone.exit_code, unknown.exit_code) == (2, 2)
    assert "give it with --resubmit" in alone.stderr and "use one of: oom, mem, time" in unknown.stderr


def test_cancel_stops_the_runs_queued_and_running_jobs_and_records_it(set_dir, slurm):
    expset("submit", str(set_dir))
    fine_tune_of(slurm, "1B_rank16").state = "RUNNING"
    result = expset("cancel", str(set_dir), "--runs", "1B_rank16,3B_rank8", "--yes")
    assert result.exit_code == 0, result.stderr
    cancelled = {job.comment.rsplit(":", 1)[1] for job in slurm.jobs.values() if job.state == "CANCELLED"}
    assert cancelled == {"1B_rank16", "3B_rank8"}
    assert {event["run"] for event in ledger_events(set_dir, "cancelled")} == {"1B_rank16", "3B_rank8"}
    assert len(ledger_events(set_dir, "cancelled")) == 8  # a fine-tune and three evaluations each
    again = expset("cancel", str(set_dir), "--runs", "1B_rank16", "--yes")
    assert "nothing to cancel" in again.stderr


def test_cancel_without_a_terminal_or_yes_cancels_nothing(set_dir, slurm):
    expset("submit", str(set_dir))
    result = expset("cancel", str(set_dir))
    assert result.exit_code == 2 and "re-run with --yes" in result.stderr
    assert not [job for job in slurm.jobs.values() if job.state == "CANCELLED"]


def finish(set_dir, slurm: FakeSlurm, digests: dict[str, str]) -> None:
    """Every job ended well, each fine-tune having trained with the setup of its run's digest in ``digests``."""
    for job in slurm.jobs.values():
        _, _, _, step, run = job.comment.split(":", 4)
        record = {"job": job.job_id, "exit_code": 0, "status": "success", "log": "x.eval", "setup": digests[run]}
        (set_dir / run / job_record(step, job.job_id)).write_text(json.dumps(record))
        job.state = "COMPLETED"


def test_a_run_whose_setup_changed_since_it_ran_goes_again_only_with_rerun(set_dir, slurm):
    from expset.provenance import read_training_digests

    submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    digests = read_training_digests(set_dir)
    finish(set_dir, slurm, {**digests, "1B_rank16": "the digest of an older setup"})
    plain = submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    assert plain.submitted == {} and "--rerun" in plain.skipped["1B_rank16"]
    rerun = submit_set(load_set(set_dir), set_dir, SlurmClient(slurm), rerun=True)
    assert list(rerun.submitted) == ["1B_rank16"] and len(rerun.submitted["1B_rank16"]) == 4


def limited(slurm: FakeSlurm, most: int) -> None:
    """SLURM refuses a job while ``most`` of this user's jobs are queued (AssocMaxSubmitJobLimit)."""

    def over_the_limit(n, argv):
        queued = [job for job in slurm.jobs.values() if job.state in ("PENDING", "RUNNING")]
        if len(queued) < most:
            return None
        return Completed(tuple(argv), 1, "", LIMIT_REFUSAL)

    slurm.on_sbatch = over_the_limit


# Recorded from slurm-wlm 22.05 with slurmdbd, AccountingStorageEnforce=limits and MaxSubmitJobs=3.
LIMIT_REFUSAL = (
    "sbatch: error: AssocMaxSubmitJobLimit\nsbatch: error: Batch job submission failed: Job violates "
    "accounting/QOS policy (job submit limit, user's size and/or time limits)\n"
)


def test_a_refusal_over_slurms_job_limit_leaves_the_rest_for_later_instead_of_failing(set_dir):
    slurm = FakeSlurm()
    limited(slurm, 5)
    report = submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    assert report.error is None and report.limit == "AssocMaxSubmitJobLimit"
    assert list(report.submitted) == ["1B_rank8"] and report.left == ["1B_rank16", "3B_rank8", "3B_rank16"]
    assert len(slurm.live_scripts()) == 4  # the refused run's fine-tune was withdrawn


def test_follow_submits_round_after_round_as_jobs_end_until_every_run_is_submitted(set_dir):
    slurm = FakeSlurm()
    limited(slurm, 5)
    rounds = []

    def jobs_end(seconds):  # between two rounds, every queued job finishes
        for job in slurm.jobs.values():
            job.state = "COMPLETED" if job.state == "PENDING" else job.state

    def once():
        return submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))

    last = follow(once, poll=30, on_round=rounds.append, on_wait=print, sleep=jobs_end)
    assert last.left == [] and len(rounds) == 4
    assert [list(report.submitted) for report in rounds] == [["1B_rank8"], ["1B_rank16"], ["3B_rank8"], ["3B_rank16"]]
    assert len(slurm.live_scripts()) == 16
    assert sum(1 for call in slurm.calls if call[0] == "squeue") == 4  # one per round


def test_follow_ends_with_the_reason_when_the_limit_leaves_no_slot_this_set_could_free(set_dir):
    slurm = FakeSlurm()
    limited(slurm, 0)  # other jobs of the user fill the limit

    def once():
        return submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))

    with pytest.raises(SubmitError) as ended:
        follow(once, poll=30, on_round=lambda report: None, on_wait=print, sleep=lambda seconds: None)
    assert "although none of them is queued" in ended.value.message


def test_max_jobs_below_what_one_run_needs_is_refused_not_waited_for(set_dir, slurm):
    result = expset("submit", str(set_dir), "--max-jobs", "3", "--follow")
    assert result.exit_code == 2 and "give --max-jobs 4 or more" in result.stderr
    assert slurm.jobs == {}


def test_a_fix_is_applied_once_per_failure_even_when_the_resubmission_is_refused(set_dir, slurm):
    from fake_slurm import refusal

    expset("submit", str(set_dir))
    fail(set_dir, slurm, "1B_rank8", "FAILED", CUDA_OOM)
    slurm.on_sbatch = lambda n, argv: refusal(argv)
    assert expset("submit", str(set_dir), "--resubmit", "--fix", "oom").exit_code == 6
    slurm.on_sbatch = None
    again = expset("submit", str(set_dir), "--resubmit", "--fix", "oom")
    assert again.exit_code == 0, again.stderr
    assert read_setup(set_dir / "1B_rank8" / "setup_finetune.yaml").training.batch_size == 2  # halved once
    assert "its setup was fixed after its last job failed" in " ".join(again.stderr.split())


def test_a_run_whose_setup_changed_sends_nothing_again_without_rerun_not_even_a_failed_evaluation(set_dir, slurm):
    from expset.provenance import read_training_digests

    submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    finish(set_dir, slurm, {**read_training_digests(set_dir), "1B_rank8": "the digest of an older setup"})
    [evaluation] = [job for job in slurm.jobs.values() if job.comment.endswith(":evaluate/arithmetic/epoch_1:1B_rank8")]
    evaluation.state = "FAILED"
    report = submit_set(load_set(set_dir), set_dir, SlurmClient(slurm), resubmit=True)
    assert "1B_rank8" not in report.submitted and "--rerun" in report.skipped["1B_rank8"]


def test_a_follow_resubmits_the_runs_left_in_later_rounds_and_stops_when_the_set_is_cancelled(
    set_dir, slurm, monkeypatch
):
    expset("submit", str(set_dir))
    for run in ("1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"):
        fail(set_dir, slurm, run, "FAILED")
    rounds = []

    def between_rounds(seconds):
        rounds.append(seconds)
        for job in slurm.jobs.values():
            job.state = "COMPLETED" if job.state == "PENDING" else job.state
        if len(rounds) == 2:  # someone cancels the set while the follow waits
            assert expset("cancel", str(set_dir), "--yes").exit_code == 0

    monkeypatch.setattr("expset.follow.time.sleep", between_rounds)
    result = expset("submit", str(set_dir), "--resubmit", "--follow", "--max-jobs", "8", "--poll", "1", "--no-check")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert said.count("submitted 1B_rank8") == said.count("submitted 1B_rank16") == 1  # round one
    assert said.count("submitted 3B_rank8") == said.count("submitted 3B_rank16") == 1  # round two, with --resubmit
    assert "stopped following" not in said  # every run was submitted before the cancel


def test_a_follow_stops_at_its_next_round_when_the_set_is_cancelled(set_dir, slurm, monkeypatch):
    def someone_cancels(seconds):
        assert expset("cancel", str(set_dir), "--yes").exit_code == 0

    monkeypatch.setattr("expset.follow.time.sleep", someone_cancels)
    result = expset("submit", str(set_dir), "--follow", "--max-jobs", "8", "--poll", "1", "--no-check")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "stopped following: the set's jobs were cancelled" in said, said
    assert "2 run(s) left for a later submit" in said
    assert sorted({job.comment.rsplit(":", 1)[1] for job in slurm.jobs.values()}) == ["1B_rank16", "1B_rank8"]


def test_ctrl_c_while_following_leaves_the_jobs_queued_and_the_same_command_goes_on(set_dir, slurm, monkeypatch):
    def interrupted(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("expset.follow.time.sleep", interrupted)
    # --no-check: time.sleep is the follow's only here (a task import's subprocess waits with it too)
    stopped = expset("submit", str(set_dir), "--follow", "--max-jobs", "8", "--poll", "1", "--no-check")
    assert stopped.exit_code == 130
    assert "interrupted; the jobs of 2 run(s) were submitted" in stopped.stderr
    assert len(slurm.live_scripts()) == 8  # nothing cancelled
    for job in slurm.jobs.values():
        job.state = "COMPLETED"
    monkeypatch.setattr("expset.follow.time.sleep", lambda seconds: None)
    again = expset("submit", str(set_dir), "--follow", "--max-jobs", "8", "--poll", "1")
    assert again.exit_code == 0, again.stderr
    assert len(slurm.live_scripts()) == 16 and len(set(slurm.live_scripts())) == 16

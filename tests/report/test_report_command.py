"""``expset report`` on a set whose jobs left real inspect-ai logs (one captured from an evaluation job,
copied into each cell) and real torchtune training logs: what it writes, what it names as missing, and
how it refuses. The end-to-end test makes the same report from a set run on a real cluster."""

import json
import shutil
from pathlib import Path

import pytest

from expset.core.layout import LOG_DIR, evaluation_step, job_record, task_dir

from helpers import run_expset, write_plan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PLAN = """\
name: report test
purpose: Does the learning rate matter?
date: 2026-01-01
vary:
  lr: [1e-4, 1e-3]
fixed:
  epochs: 2
evaluations:
  - {name: shout, epochs: all}
"""
SET = "report-test_2026-01-01"


def leave_evaluation(run_dir: Path, epoch: int, job: int, exit_code: int = 0, status: str = "success") -> Path:
    """What an evaluation job leaves: its inspect log (a captured real one) and its record."""
    name = f"{task_dir('shout')}/2026-01-01T00-00-00-00-00_shout_epoch{epoch}_job{job}_x.eval"
    shutil.copy(FIXTURES / "inspect_shout_epoch1.eval", run_dir / name)
    record = {"job": str(job), "exit_code": exit_code, "status": status, "log": name, "started": 100, "ended": 160}
    (run_dir / job_record(evaluation_step("shout", epoch), str(job))).write_text(json.dumps(record))
    return run_dir / name


@pytest.fixture
def finished(tmp_path):
    plan = write_plan(tmp_path / "plan.yaml", PLAN)
    assert run_expset("create", str(plan), "--yes", "--root", str(tmp_path)).returncode == 0
    set_dir = tmp_path / SET
    job = 10
    for run in ("lr1e-4", "lr1e-3"):
        (set_dir / run / LOG_DIR).mkdir()
        shutil.copy(FIXTURES / "torchtune_disklogger_log.txt", set_dir / run / LOG_DIR / "log_1767225600.txt")
        for epoch in (0, 1):
            job += 1
            leave_evaluation(set_dir / run, epoch, job)
    return set_dir


def test_a_finished_set_is_reported_with_a_row_per_cell_and_exit_0(finished):
    result = run_expset("report", str(finished))
    assert result.returncode == 0, result.stderr
    rows = (finished / "report" / "results.csv").read_text().splitlines()
    assert rows[0].startswith("run,kind,task,epoch,scorer,metric,value,stderr,samples,lr,epochs,source,log")
    assert len(rows) == 1 + 4
    assert len((finished / "report" / "training.csv").read_text().splitlines()) == 1 + 2 * 4
    assert "shout: accuracy" in result.stdout and "report.html" in result.stderr


def test_missing_and_failed_evaluations_are_named_and_the_exit_code_says_incomplete(finished):
    next(iter((finished / "lr1e-3" / "evaluations" / "shout").glob("result_epoch_0.*.json"))).unlink()
    leave_evaluation(finished / "lr1e-3", 1, 99, exit_code=1, status="error")
    result = run_expset("report", str(finished))
    assert result.returncode == 7
    assert "missing lr1e-3 shout epoch 0: no evaluation log yet" in result.stderr
    # the failed rerun is newer, but the earlier success of epoch 1 still stands
    assert "epoch 1" not in result.stderr and "1 of 2 runs complete" in result.stderr


def test_a_rerun_that_failed_with_no_earlier_success_is_named_with_its_job_and_status(finished):
    for record in (finished / "lr1e-3" / "evaluations" / "shout").glob("result_epoch_1.*.json"):
        record.unlink()
    leave_evaluation(finished / "lr1e-3", 1, 99, exit_code=1, status="error")
    result = run_expset("report", str(finished))
    assert "missing lr1e-3 shout epoch 1: evaluation failed (job 99: error)" in result.stderr


def test_the_report_folder_is_replaced_whole_and_nothing_else_is_touched(finished):
    (finished / "report").mkdir()
    (finished / "report" / "stale.png").write_text("old")
    before = sorted(p.relative_to(finished) for p in finished.rglob("*") if "report" not in p.parts)
    assert run_expset("report", str(finished)).returncode == 0
    assert not (finished / "report" / "stale.png").exists() and (finished / "report" / "report.html").is_file()
    assert sorted(p.relative_to(finished) for p in finished.rglob("*") if "report" not in p.parts) == before
    assert [p.name for p in finished.iterdir() if p.name.startswith(".report")] == []


def test_a_report_folder_that_is_a_link_is_refused(finished, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (finished / "report").symlink_to(elsewhere)
    result = run_expset("report", str(finished))
    assert result.returncode == 2 and "report" in result.stderr and list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--epoch", "first"], "--epoch 'first': not an epoch"),
        (["--by", "rank"], "--by rank: not varied in this set"),
        (["--metric", "f1"], "--metric f1: no evaluation of this set reports it"),
    ],
)
def test_bad_choices_are_refused_in_one_line(finished, arguments, message):
    result = run_expset("report", str(finished), *arguments)
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2 and error.startswith(f"error: {message}"), result.stderr


def test_without_the_report_libraries_it_says_what_to_install(finished, monkeypatch):
    import importlib.util

    from typer.testing import CliRunner

    from expset.cli.app import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = CliRunner().invoke(app, ["report", str(finished)])
    assert result.exit_code == 5
    assert "matplotlib is not installed" in result.stderr and "pip install 'expset[report]'" in result.stderr


class AccountingStandIn:
    """Answers ``sacct`` as a cluster with accounting does (format recorded from slurm-wlm 22.05)."""

    def __init__(self, lines: str) -> None:
        self.lines = lines

    def run(self, argv, *, cwd=None, timeout=60):
        from expset.slurm.runner import Completed

        assert argv[0] == "sacct" and "--format=JobID,ElapsedRaw,AllocTRES" in argv
        return Completed(tuple(argv), 0, self.lines, "")


def test_the_cost_comes_from_slurms_accounting_where_it_keeps_it_else_from_the_jobs_records(finished):
    from expset.report import gather
    from expset.sets import load_set
    from expset.slurm.client import SlurmClient

    accounting = "11|3600|billing=1,cpu=1,gres/gpu=2,mem=8G,node=1\n11.batch|3600|cpu=1,mem=8G,node=1\n"
    costs = gather(load_set(finished), finished, SlurmClient(AccountingStandIn(accounting))).costs
    by_job = {row["job"]: row for row in costs}
    assert (by_job["11"]["elapsed_s"], by_job["11"]["gpus"], by_job["11"]["gpu_hours"]) == (3600, 2, 2.0)
    assert by_job["11"]["source"] == "slurm"
    assert (by_job["12"]["elapsed_s"], by_job["12"]["source"]) == (60, "job record")


def test_by_that_would_pool_runs_of_different_settings_is_refused(tmp_path):
    plan = write_plan(
        tmp_path / "plan.yaml",
        PLAN.replace("  lr: [1e-4, 1e-3]\n", "  lr: [1e-4, 1e-3]\n  lora_rank: [8, 16]\n"),
    )
    assert run_expset("create", str(plan), "--yes", "--root", str(tmp_path)).returncode == 0
    result = run_expset("report", str(tmp_path / SET), "--by", "lr")
    assert result.returncode == 2
    assert "--by lr: lora_rank also varies" in result.stderr and "--by lr,lora_rank" in result.stderr


def test_every_epoch_gets_its_own_table_never_pooled(finished):
    result = run_expset("report", str(finished), "--epoch", "all", "--json")
    assert result.returncode == 0, result.stderr
    page = (finished / "report" / "report.md").read_text()
    assert "## shout: accuracy, after epoch 0" in page and "## shout: accuracy, after epoch 1" in page
    assert "(n=2)" not in page

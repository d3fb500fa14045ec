"""The test cluster with SLURM's accounting (slurmdbd on a private MariaDB) behaves as a real site's does:
``sacct`` answers from the database, and a per-user job limit makes ``sbatch`` refuse what is over it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "dev" / "slurm-cluster"


@pytest.fixture
def accounting(accounting_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The accounting cluster selected for SLURM's commands; its folder (what dev/slurm-cluster takes)."""
    monkeypatch.setenv("SLURM_CONF", str(accounting_cluster))
    return accounting_cluster.parent.parent


def sbatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sbatch", "--parsable", "--output=/dev/null", *args], capture_output=True, text=True)


def test_sacct_reports_a_finished_jobs_final_state_from_the_database(accounting):
    job = sbatch("--wrap", "exit 3").stdout.strip()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = subprocess.run(
            ["sacct", "-X", "--noheader", "--parsable2", "--format=JobID,State,ExitCode", f"--jobs={job}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if rows and rows[0].split("|")[1] not in ("PENDING", "RUNNING"):
            break
        time.sleep(0.2)
    assert rows == [f"{job}|FAILED|3:0"]


def test_a_per_user_max_submit_jobs_limit_makes_sbatch_refuse_the_job_over_it(accounting):
    subprocess.run([str(SCRIPT), "limit", str(accounting), "MaxSubmitJobs=3"], check=True)
    held = []  # jobs in the down partition "held" stay pending: they count against the limit until cancelled
    try:
        for _ in range(3):
            accepted = sbatch("--partition=held", "--wrap", "true")
            assert accepted.returncode == 0, accepted.stderr
            held.append(accepted.stdout.strip())
        refused = sbatch("--partition=held", "--wrap", "true")
        assert refused.returncode == 1
        assert "AssocMaxSubmitJobLimit" in refused.stderr
    finally:
        subprocess.run(["scancel", *held], check=False)
        subprocess.run([str(SCRIPT), "limit", str(accounting), "MaxSubmitJobs=-1"], check=True)

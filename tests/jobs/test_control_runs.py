"""Control runs through scaffold, submit and status, against a stand-in for SLURM's commands: the base
model's evaluation jobs load the model itself, go to SLURM waiting for nothing, and count as a run."""

from __future__ import annotations

import json

import pytest

from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.status import set_status
from expset.submit import submit_set

from fake_slurm import FakeSlurm
from site_helpers import expset

CONTROLS = ["base_1B", "base_3B"]


@pytest.fixture
def set_dir(site):
    created = site.create(controls=True)
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def test_a_control_is_scaffolded_as_evaluations_of_the_untuned_base_model_only(set_dir, site):
    control = set_dir / "base_1B"
    assert not (control / "finetune.yaml").exists() and not (control / "finetune.slurm").exists()
    scripts = sorted(p.relative_to(control).as_posix() for p in control.rglob("evaluate_*.slurm"))
    assert scripts == [
        "evaluations/arithmetic/evaluate_epoch_0.slurm",
        "evaluations/capitalization/evaluate_epoch_0.slurm",
    ]
    script = (control / scripts[0]).read_text()
    assert f"checkpoint={site.models}/Llama-3.2-1B-Instruct\n" in script and "${run_dir}/epoch_0" not in script
    setup = (control / "setup_finetune.yaml").read_text()
    assert "kind: control" in setup and 'path: ""' in setup
    assert json.loads(expset("which", str(set_dir), "base_1B", "--json").stdout)["kind"] == "control"


def test_a_controls_evaluations_are_submitted_waiting_for_nothing(set_dir):
    slurm = FakeSlurm()
    report = submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    assert list(report.submitted) == ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16", *CONTROLS]
    for run in CONTROLS:
        assert [job.step for job in report.submitted[run]] == [
            "evaluate/capitalization/epoch_0",
            "evaluate/arithmetic/epoch_0",
        ]
        assert all(job.after is None for job in report.submitted[run])
    control_calls = [call for call in slurm.calls if call[0] == "sbatch" and "/base_" in call[-1]]
    assert len(control_calls) == 4 and not any(a.startswith("--dependency") for c in control_calls for a in c)


def test_a_control_is_complete_once_its_evaluations_succeeded(set_dir):
    from test_submit_with_stand_in import finish_every_job

    slurm = FakeSlurm()
    submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    finish_every_job(set_dir, slurm)
    statuses = {s.run: s for s in set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs}
    assert {name: s.progress.value for name, s in statuses.items() if name in CONTROLS} == dict.fromkeys(
        CONTROLS, "complete"
    )
    assert statuses["base_1B"].to_data()["kind"] == "control" and statuses["base_1B"].finetune is None
    assert statuses["1B_rank8"].to_data()["kind"] == "fine-tuned"


@pytest.fixture
def with_checkpoint(site, tmp_path):
    checkpoint = tmp_path / "elsewhere" / "epoch_2"
    checkpoint.mkdir(parents=True)
    created = site.create(evaluate_only={"earlier_best": {"path": str(checkpoint), "model": "Llama-3.2-1B-Instruct"}})
    assert expset("scaffold", str(created)).exit_code == 0
    return created, checkpoint


def test_a_checkpoint_made_elsewhere_is_evaluated_in_a_run_folder_of_its_own(with_checkpoint, site):
    set_dir, checkpoint = with_checkpoint
    run_dir = set_dir / "earlier_best"
    from expset.render.yaml_read import load_yaml

    assert load_yaml((run_dir / "run.yaml").read_text(), "run.yaml")["source"] == str(checkpoint)
    assert not (run_dir / "finetune.slurm").exists()
    script = (run_dir / "evaluations/arithmetic/evaluate_epoch_0.slurm").read_text()
    assert f"checkpoint={checkpoint}\nbase={site.models}/Llama-3.2-1B-Instruct\n" in script  # for an adapter-only one
    assert "kind: evaluation-only" in (run_dir / "setup_finetune.yaml").read_text()
    which = json.loads(expset("which", str(set_dir), "earlier_best", "--json").stdout)
    assert (which["kind"], which["source"]) == ("evaluation-only", str(checkpoint))
    rows = (set_dir / "runs.csv").read_text().splitlines()
    assert rows[-1].startswith("earlier_best,evaluation-only,Llama-3.2-1B-Instruct")


def test_an_evaluation_only_run_is_submitted_waiting_for_nothing_and_counts_as_a_run(with_checkpoint):
    from test_submit_with_stand_in import finish_every_job

    set_dir, _ = with_checkpoint
    slurm = FakeSlurm()
    report = submit_set(load_set(set_dir), set_dir, SlurmClient(slurm))
    assert all(job.after is None for job in report.submitted["earlier_best"])
    finish_every_job(set_dir, slurm)
    statuses = {s.run: s for s in set_status(load_set(set_dir), set_dir, SlurmClient(slurm)).runs}
    assert (statuses["earlier_best"].kind, statuses["earlier_best"].progress.value) == ("evaluation-only", "complete")

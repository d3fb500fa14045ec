"""Generated files checked by the programs that consume them: torchtune's ``tune validate`` for every
model in the table, ``shellcheck`` and ``bash -n`` for every job script, and the shell itself for
values with shell meaning."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from expset.core.models import MODELS
from expset.render.yaml_read import load_yaml
from expset.render.yaml_text import to_yaml

from e2e.tiny_model import tiny_model_entry
from site_helpers import expset

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
TINY_MODEL = tiny_model_entry()


def tune_validate(config: Path, hf_home: Path) -> subprocess.CompletedProcess[str]:
    tune = shutil.which("tune", path=str(Path(sys.executable).parent)) or "tune"
    return subprocess.run(
        [tune, "validate", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **OFFLINE, "HF_HOME": str(hf_home)},
    )


OVERRIDES = {
    "optimizer.weight_decay": 0.1,
    "optimizer.betas": [0.9, 0.95],
    "lr_scheduler.num_warmup_steps": 5,
    "clip_grad_norm": 1.0,
    "enable_activation_checkpointing": True,
    "~profiler": None,
}
"""torchtune settings by config path, applied to every model's config: each set, one removed."""


@pytest.fixture(scope="module")
def every_model_set(tmp_path_factory):
    """One set with a run for every model in the table, and the plan's own tiny model, scaffolded."""
    from site_helpers import Site

    root = tmp_path_factory.mktemp("models")
    site = Site(root)
    previous = os.environ.get("EXPSET_PROFILE")
    os.environ["EXPSET_PROFILE"] = str(site.profile)
    try:
        set_dir = site.create(
            vary={"model": [*MODELS, "tiny"], "lora_rank": [8]},
            fixed={"dataset": "words", "lr": 1e-4, "epochs": 1, **OVERRIDES},
            models={"tiny": TINY_MODEL},
        )
        result = expset("scaffold", str(set_dir))
        assert result.exit_code == 0, result.stderr
    finally:
        if previous is None:
            del os.environ["EXPSET_PROFILE"]
        else:
            os.environ["EXPSET_PROFILE"] = previous
    return set_dir


def test_every_models_config_passes_tune_validate(every_model_set, tmp_path):
    configs = sorted(every_model_set.glob("*/finetune.yaml"))
    assert len(configs) == len(MODELS) + 1
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda config: (config, tune_validate(config, tmp_path / "hf")), configs))
    failures = {str(c.parent.name): r.stderr[-500:] for c, r in results if "Config is well-formed!" not in r.stdout}
    assert not failures


def test_settings_by_config_path_reach_every_config(every_model_set):
    for config in every_model_set.glob("*/finetune.yaml"):
        data = load_yaml(config.read_text(), config.name)
        assert data["optimizer"]["weight_decay"] == 0.1
        assert data["optimizer"]["betas"] == [0.9, 0.95]
        assert data["lr_scheduler"]["num_warmup_steps"] == 5
        assert data["clip_grad_norm"] == 1.0
        assert data["enable_activation_checkpointing"] is True
        assert "profiler" not in data


def test_a_varied_setting_is_validated_by_torchtune_and_read_back_from_the_run_name(site, tmp_path):
    set_dir = site.create(
        vary={"optimizer.weight_decay": [0.0, 0.05]},
        fixed={"model": "tiny", "dataset": "words", "epochs": 1, "compile": False},
        models={"tiny": TINY_MODEL},
        evaluations=[],
        validation={"fraction": 0.5, "every_n_steps": 5},
    )
    assert sorted(path.name for path in set_dir.iterdir() if path.is_dir()) == ["wd0", "wd0.05"]
    assert expset("scaffold", str(set_dir)).exit_code == 0
    for run, decay in (("wd0", 0.0), ("wd0.05", 0.05)):
        config = set_dir / run / "finetune.yaml"
        assert load_yaml(config.read_text(), "finetune.yaml")["optimizer"]["weight_decay"] == decay
        assert "Config is well-formed!" in tune_validate(config, tmp_path / "hf").stdout
    which = expset("which", str(set_dir), "wd0.05")
    assert which.exit_code == 0, which.stderr
    assert "optimizer.weight_decay  0.05  (varied)" in which.stdout


def test_tune_validate_rejects_a_config_torchtune_cannot_build(every_model_set, tmp_path):
    """The check above can fail: a wrong builder argument is caught by the real tool."""
    config = next(every_model_set.glob("*/finetune.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text().replace("  lora_rank: 8\n", "  lora_rank: 8\n  not_an_argument: 1\n"))
    assert "Config is well-formed!" not in tune_validate(broken, tmp_path / "hf").stdout


def test_larger_models_use_the_distributed_recipe(every_model_set):
    script = (every_model_set / "llama3.3_70B-it_rank8" / "finetune.slurm").read_text()
    assert "tune run --nproc_per_node 8 lora_finetune_distributed --config" in script
    assert "#SBATCH --gres=gpu:8" in script and "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH --mem=640G" in script


def test_cpu_models_request_no_gpu(every_model_set):
    script = (every_model_set / "tiny_rank8" / "finetune.slurm").read_text()
    assert "--gres" not in script
    evaluation = next((every_model_set / "tiny_rank8" / "evaluations").rglob("*.slurm")).read_text()
    assert "-M device=cpu" in evaluation and "--gres" not in evaluation


def scripts(set_dir: Path) -> list[Path]:
    return sorted(set_dir.glob("*/finetune.slurm")) + sorted(set_dir.glob("*/evaluations/*/*.slurm"))


def test_every_script_passes_shellcheck_and_bash_n(every_model_set):
    paths = scripts(every_model_set)
    assert len(paths) == 3 * (len(MODELS) + 1)  # per run: the fine-tune, and one epoch of each of two tasks
    checked = subprocess.run(["shellcheck", "--severity=style", *map(str, paths)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    for path in paths:
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0, path


def test_no_shell_variables_in_sbatch_lines(every_model_set):
    for path in scripts(every_model_set):
        for line in path.read_text().splitlines():
            if line.startswith("#SBATCH"):
                assert "$" not in line, (path, line)


HOSTILE = 'it\'s "$(touch pwned)" `touch pwned2`; rm -rf ~ &\nnext line $HOME'


def test_values_with_shell_meaning_reach_the_command_verbatim_and_run_nothing(site, tmp_path):
    odd_data = site.data / "odd $(touch pwned) 'name'.json"
    odd_data.write_text(json.dumps([{"input": "a", "output": "b"}]))
    set_dir = site.create(
        vary={"lora_rank": [8, 16]},
        fixed={"model": "Llama-3.2-1B-Instruct", "dataset": odd_data.name, "epochs": 1},
        evaluations=[{"name": "arithmetic", "task": f"{site.tasks}@arithmetic", "args": {"prompt": HOSTILE}}],
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    script = set_dir / "rank8/evaluations/arithmetic/evaluate_epoch_0.slurm"
    assert subprocess.run(["shellcheck", str(script)], capture_output=True).returncode == 0
    # Run the job script with stand-ins for inspect, which only records the run config it is given (the
    # job removes it when it ends), and for python.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "run_config.yaml"
    stub = (
        f"#!{sys.executable}\nimport shutil, sys\n"
        f"shutil.copy(sys.argv[sys.argv.index('--run-config') + 1], {str(record)!r})\n"
    )
    (bin_dir / "inspect").write_text(stub)
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    (set_dir / "rank8/epoch_0").mkdir()
    (set_dir / "rank8/epoch_0/model.safetensors").write_bytes(b"")  # whole weights, as far as the job can tell
    work = tmp_path / "job-cwd"
    work.mkdir()
    ran = subprocess.run(
        ["bash", str(script)],
        cwd=work,
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert ran.returncode == 0, ran.stderr
    run_config = yaml.safe_load(record.read_text())
    assert run_config["task"]["args"] == {"prompt": HOSTILE}
    assert run_config["metadata"]["dataset"] == odd_data.name
    assert not list(work.iterdir()) and not (tmp_path / "pwned").exists() and not (Path.home() / "pwned").exists()


HOSTILE_SLURM_VALUES = [
    ("account", "lab; rm -rf ~", "slurm"),
    ("partition", "gpu\n#SBATCH --mem=1T", "slurm"),
    ("mail_user", "$(id)@example.org", "slurm"),
    ("time", "tomorrow", "resources"),
    ("environment", ["module load x\nrm -rf ~"], "slurm"),
]


@pytest.mark.parametrize(("key", "value", "section"), HOSTILE_SLURM_VALUES)
def test_values_slurm_reads_without_a_shell_are_refused_before_the_set_exists(site, key, value, section):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(site={key: value})))
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: site.{key}: "), result.stderr
    assert not (site.root / "scaffold-test_2025-10-18").exists()


@pytest.mark.parametrize(("key", "value", "section"), HOSTILE_SLURM_VALUES)
def test_values_slurm_reads_without_a_shell_are_refused_in_an_edited_setup(site, key, value, section):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    setup_file = set_dir / "1B_rank8" / "setup_finetune.yaml"
    setup = load_yaml(setup_file.read_text(), "setup")
    setup[section][key] = value
    setup_file.write_text(to_yaml(setup))
    before = (set_dir / "1B_rank8" / "finetune.slurm").read_text()
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2
    assert f"{section}.{key}" in result.stderr.splitlines()[0], result.stderr
    assert (set_dir / "1B_rank8" / "finetune.slurm").read_text() == before


def test_a_set_path_slurm_cannot_take_is_refused(site):
    odd_root = site.root / "my sets"
    odd_root.mkdir()
    plan = site.root / "p.yaml"
    plan.write_text(to_yaml(site.plan()))
    assert expset("create", str(plan), "--yes", "--root", str(odd_root)).exit_code == 0
    result = expset("scaffold", str(odd_root / "scaffold-test_2025-10-18"))
    assert result.exit_code == 2
    assert "run_dir" in result.stderr and "move the set" in result.stderr

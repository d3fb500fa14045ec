"""What each job asks SLURM for and how it runs: evaluation resources from the model or the plan, the
profile's defaults, the offline switch, and generation settings checked when the plan is read."""

import pytest

from expset.render.yaml_text import to_yaml

from site_helpers import expset


def sbatch_lines(script) -> list[str]:
    return [line for line in script.read_text().splitlines() if line.startswith("#SBATCH")]


def test_a_large_models_evaluation_asks_for_the_models_gpus_and_spreads_the_model_across_them(site):
    set_dir = site.create(vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.3-70B-Instruct", "dataset": "words"})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    script = set_dir / "rank8" / "evaluations" / "arithmetic" / "evaluate_epoch_0.slurm"
    assert "#SBATCH --gres=gpu:8" in sbatch_lines(script)
    assert "-M device=auto" in script.read_text()


def test_an_evaluations_own_resources_reach_its_jobs(site):
    evaluation = {"name": "arithmetic", "task": f"{site.tasks}@arithmetic", "gpus": 2, "cpus": 6, "mem": "90G"}
    set_dir = site.create(evaluations=[{**evaluation, "time": "06:30:00"}])
    assert expset("scaffold", str(set_dir)).exit_code == 0
    lines = sbatch_lines(set_dir / "1B_rank8" / "evaluations" / "arithmetic" / "evaluate_epoch_1.slurm")
    for expected in ("--gres=gpu:2", "--cpus-per-task=6", "--mem=90G", "--time=06:30:00"):
        assert f"#SBATCH {expected}" in lines


def test_the_profiles_evaluation_time_is_the_default(site):
    site.profile.write_text(site.profile.read_text() + 'evaluation_time = "03:00:00"\n')
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    lines = sbatch_lines(set_dir / "1B_rank8" / "evaluations" / "arithmetic" / "evaluate_epoch_1.slurm")
    assert "#SBATCH --time=03:00:00" in lines


@pytest.mark.parametrize(("offline", "exported"), [(None, True), (False, False), (True, True)])
def test_jobs_run_offline_unless_the_profile_says_otherwise(site, offline, exported):
    if offline is not None:
        site.profile.write_text(site.profile.read_text() + f"offline = {str(offline).lower()}\n")
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    for script in ("finetune.slurm", "evaluations/arithmetic/evaluate_epoch_1.slurm"):
        text = (set_dir / "1B_rank8" / script).read_text()
        assert ("export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1" in text) is exported


@pytest.mark.parametrize(
    ("generate", "said"),
    [
        ({"temprature": 0.5}, "'temprature' is not a generation setting of inspect — did you mean 'temperature'?"),
        ({"system_message": "hi"}, "the system message is the plan's prompt.system"),
    ],
)
def test_generation_settings_are_checked_when_the_plan_is_read(site, generate, said):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(
        to_yaml(site.plan(evaluations=[{"name": "a", "task": f"{site.tasks}@arithmetic", "generate": generate}]))
    )
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert said in result.stderr
    assert not (site.root / "scaffold-test_2025-10-18").exists()


def test_an_evaluation_time_slurm_cannot_read_is_refused_when_the_plan_is_read(site):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(
        to_yaml(site.plan(evaluations=[{"name": "a", "task": f"{site.tasks}@arithmetic", "time": "1h"}]))
    )
    result = expset("plan", str(plan_file))
    assert result.exit_code == 2
    assert "evaluations[0].time: '1h' cannot go in an #SBATCH line" in result.stderr


@pytest.mark.parametrize(
    ("validation", "said"),
    [
        ({"every_n_steps": 5}, "validation: give one of fraction, split or file"),
        ({"fraction": 0.1, "file": "val"}, "validation: give one of fraction, split or file"),
        ({"fraction": 0.125}, "validation.fraction: 0.125 is not a whole percent"),
    ],
)
def test_validation_is_checked_when_the_plan_is_read(site, validation, said):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(validation=validation)))
    result = expset("plan", str(plan_file))
    assert result.exit_code == 2
    assert said in result.stderr


def test_a_held_out_fraction_is_the_end_of_the_training_file_and_the_run_uses_the_validating_recipe(site):
    from expset.render.yaml_read import load_yaml

    set_dir = site.create(validation={"fraction": 0.1, "every_n_steps": 20})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    config = load_yaml((set_dir / "1B_rank8/finetune.yaml").read_text(), "finetune.yaml")
    assert (config["dataset"]["split"], config["dataset_val"]["split"]) == ("train[:90%]", "train[90%:]")
    assert config["dataset_val"]["data_files"] == config["dataset"]["data_files"]
    assert config["run_val_every_n_steps"] == 20
    assert (set_dir / "1B_rank8/lora_single_device.py").is_file()
    assert 'python "${run_dir}/lora_single_device.py" --config' in (set_dir / "1B_rank8/finetune.slurm").read_text()


def test_a_validation_file_is_looked_for_before_the_set_exists(site):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(validation={"file": "missing"})))
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert f"validation.file 'missing': no file at {site.data / 'missing'}" in result.stderr
    assert not (site.root / "scaffold-test_2025-10-18").exists()


def test_validation_on_several_gpus_is_refused_before_the_set_exists_naming_the_recipe(site):
    plan_file = site.root / "plan.yaml"
    changes = {"fixed": {"model": "Llama-3.3-70B-Instruct", "dataset": "words"}, "validation": {"fraction": 0.1}}
    plan_file.write_text(to_yaml(site.plan(vary={"lora_rank": [8, 16]}, **changes)))
    result = expset("create", str(plan_file), "--yes", "--root", str(site.root))
    assert result.exit_code == 2
    assert "trains on 8 GPUs, with torchtune's lora_finetune_distributed recipe, which has no validation loop" in (
        result.stderr
    )
    assert not (site.root / "scaffold-test_2025-10-18").exists()


def test_an_evaluation_asks_for_the_memory_the_plan_gives_the_run(site):
    set_dir = site.create(fixed={"dataset": "words", "epochs": 2, "mem": "96G"})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    lines = sbatch_lines(set_dir / "1B_rank8" / "evaluations" / "arithmetic" / "evaluate_epoch_1.slurm")
    assert "#SBATCH --mem=96G" in lines


@pytest.mark.parametrize(
    ("generate", "said"),
    [
        ({"temperature": "hot"}, "temperature: 'hot' is not a number"),
        ({"max_tokens": 1.5}, "max_tokens: 1.5 is not a whole number"),
    ],
)
def test_generation_values_of_the_wrong_kind_are_refused_when_the_plan_is_read(site, generate, said):
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(
        to_yaml(site.plan(evaluations=[{"name": "a", "task": f"{site.tasks}@arithmetic", "generate": generate}]))
    )
    result = expset("plan", str(plan_file))
    assert result.exit_code == 2 and said in result.stderr


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"data": {"format": "text"}}, "prompt: plain-text data (data.format: text) has no conversation"),
        (
            {"fixed": {"model": "Mistral-7B-Instruct-v0.2", "dataset": "words"}},
            "chat format is torchtune's prompt template",
        ),
    ],
)
def test_a_prompt_template_where_training_cannot_take_it_is_refused(site, changes, said):
    fixed = {
        "model": "Llama-3.2-1B-Instruct",
        "dataset": "words",
        **changes.pop("fixed", {}),
        "prompt.template": "Q: {input}",
    }
    set_dir = site.create(vary={"lora_rank": [8, 16]}, fixed=fixed, evaluations=[], **changes)
    result = expset("scaffold", str(set_dir))
    assert result.exit_code == 2 and said in result.stderr


def test_the_proposal_says_what_each_model_keeps_on_disk_measured_where_its_files_are(site):
    import json
    import shutil

    folder = site.models / "Llama-3.2-1B-Instruct"
    (folder / "model.safetensors").write_bytes(b"\0" * 3_000)
    shutil.rmtree(site.models / "Llama-3.2-3B-Instruct")  # not on disk: sized from its name
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(site.plan(vary={"model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"]})))
    proposal = json.loads(expset("plan", str(plan_file), "--json").stdout)
    kept = {group["model"]: group for group in proposal["checkpoints"]}
    small, large = kept["Llama-3.2-1B-Instruct"], kept["Llama-3.2-3B-Instruct"]
    assert (small["merged"], small["merged_bytes_per_epoch"], small["merged_bytes_per_run"], small["measured"]) == (
        False,
        3_000,
        6_000,
        True,
    )
    assert (large["merged_bytes_per_epoch"], large["measured"]) == (6_000_000_000, False)  # 3B in bf16, nominally
    shown = " ".join(expset("plan", str(plan_file)).stdout.split())
    assert "Checkpoints Llama-3.2-3B-Instruct: the LoRA adapter at each of 2 epoch(s), megabytes;" in shown


def test_the_proposal_says_how_many_gpu_hours_the_set_asks_for_at_most(site):
    import json

    plan = site.plan(
        vary={"lora_rank": [8, 16]},
        fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words", "epochs": 2},
        site={"time": "02:00:00", "evaluation_time": "01:00:00"},
    )
    plan_file = site.root / "plan.yaml"
    plan_file.write_text(to_yaml(plan))
    proposal = json.loads(expset("plan", str(plan_file), "--json").stdout)
    # two fine-tunes of 1 GPU × 2 h; per run, capitalization at both epochs and arithmetic at the last: 1 GPU × 1 h
    assert proposal["requested"] == {"gpu_hours": 2 * 2 + 2 * 3 * 1, "merged_bytes": 0}
    assert "The set asks for 10.0 GPU-hours at most" in " ".join(expset("plan", str(plan_file)).stdout.split())

"""Text from a plan reaches every program that interprets text as exactly that text: torchtune (whose
OmegaConf resolves ``${…}``), inspect (which reads task arguments and metadata as YAML), SLURM (which
reads ``%`` and ``#`` in ``#SBATCH`` lines). Dataset and task paths written with ``$VAR`` are recorded
expanded."""

import json
import re

import pytest
import yaml
from omegaconf import OmegaConf

from expset.render.yaml_read import load_yaml
from expset.render.yaml_text import to_yaml
from torchtune_reader import component_arguments, torchtune_reads

from e2e.tiny_model import ARCHITECTURE, tiny_model_entry
from site_helpers import expset

SECRET = "s3cret-from-the-environment"
READS_SECRET = "${oc.env:EXPSET_SECRET}"


def test_plan_text_reaches_torchtune_as_setup_finetune_yaml_says(site, monkeypatch):
    monkeypatch.setenv("EXPSET_SECRET", SECRET)
    data = site.data / f"words {READS_SECRET} ???.json"
    data.write_text(json.dumps([{"input": "hi", "output": "HI"}]))
    model = tiny_model_entry(
        builder_args={**ARCHITECTURE, "note": READS_SECRET},
        folder=f"tiny {READS_SECRET}",
        tokenizer_files={"path": f"\\{READS_SECRET}/tokenizer.model"},
        checkpoint_files=["???", f"a\\\\{READS_SECRET}.safetensors"],
    )
    set_dir = site.create(
        vary={"lora_rank": [8, 16]},
        fixed={"model": "tiny", "dataset": data.name, "epochs": 1},
        models={"tiny": model},
        data={"format": "instruct", "fields": {"input": f"q {READS_SECRET}", "output": "???"}, "split": READS_SECRET},
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    for config in sorted(set_dir.glob("*/finetune.yaml")):
        assert SECRET not in json.dumps(OmegaConf.to_container(torchtune_reads(config), resolve=True))
    run = set_dir / "rank8"
    setup = load_yaml((run / "setup_finetune.yaml").read_text(), "setup")
    cfg = torchtune_reads(run / "finetune.yaml")
    assert component_arguments(cfg, "model")["note"] == setup["model"]["builder_args"]["note"] == READS_SECRET
    assert (
        component_arguments(cfg, "tokenizer")["path"] == f"{setup['model']['folder']}/\\{READS_SECRET}/tokenizer.model"
    )
    checkpointer = component_arguments(cfg, "checkpointer")
    assert checkpointer["checkpoint_dir"] == setup["model"]["folder"] == f"{site.models}/tiny {READS_SECRET}"
    assert checkpointer["checkpoint_files"] == setup["model"]["checkpoint_files"] == model["checkpoint_files"]
    assert checkpointer["output_dir"] == str(run)
    dataset = component_arguments(cfg, "dataset")
    assert dataset["data_files"] == setup["data"]["path"] == str(data)
    assert dataset["column_map"] == setup["data"]["fields"] == {"input": f"q {READS_SECRET}", "output": "???"}
    assert dataset["split"] == READS_SECRET
    assert component_arguments(cfg, "metric_logger")["log_dir"] == f"{run}/logs"


RECORDING_TASK = """\
import json
import os

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes


@task
def recorded(**args):
    with open(os.environ["RECEIVED_ARGS"], "w") as file:
        json.dump(args, file)
    return Task(dataset=[Sample(input="hello", target="hello")], scorer=includes())
"""
TEXT_ARGS = {
    "yes": "yes",
    "number_text": "1e-4",
    "mapping_text": "{a: 1}",
    "null_text": "null",
    "commas": "a, b,c",
    "equals": "k=v",
    "interpolation": "${oc.env:HOME}",
    "quotes": 'it\'s "quoted"',
    "lines": "two\nlines",
    "comment": "x #y",
    "empty": "",
    "odd-key": "kept as named",
}
TYPED_ARGS = {"number": 2, "rate": 1e-4, "flag": True}
EDITED_ARGS = {"levels": [1, "2", "a,b"], "options": {"k": "yes"}, "nothing": None}


def test_task_arguments_and_metadata_reach_inspect_with_their_values_and_types(site, tmp_path, offline_inspect):
    from inspect_ai.log import list_eval_logs, read_eval_log
    from test_evaluation_job import run_job, stand_in_checkpoints

    tasks = site.root / "recording.py"
    tasks.write_text(RECORDING_TASK)
    data = site.data / "words, v2.json"
    data.write_text(json.dumps([{"input": "hi", "output": "HI"}]))
    set_dir = site.create(
        vary={"lr": [1e-4, 2e-4]},
        fixed={"model": "tiny, v2: yes", "dataset": data.name, "epochs": 1, "lora_rank": 4},
        models={"tiny, v2: yes": tiny_model_entry()},
        evaluations=[{"name": "recorded", "task": f"{tasks}@recorded", "args": {**TEXT_ARGS, **TYPED_ARGS}}],
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    setup_file = set_dir / "lr1e-4" / "setup_finetune.yaml"  # a hand-edited setup may hold any YAML value
    setup = load_yaml(setup_file.read_text(), "setup")
    setup["evaluations"][0]["args"].update(EDITED_ARGS)
    setup_file.write_text(to_yaml(setup))
    assert expset("scaffold", str(set_dir)).exit_code == 0

    stand_in_checkpoints(set_dir)
    task_dir = set_dir / "lr1e-4" / "evaluations" / "recorded"
    received = tmp_path / "received.json"
    ran = run_job(task_dir / "evaluate_epoch_0.slurm", tmp_path, {**offline_inspect, "RECEIVED_ARGS": str(received)})
    assert ran.returncode == 0, ran.stderr[-2000:]
    expected_args = {**TEXT_ARGS, **TYPED_ARGS, **EDITED_ARGS}
    assert json.loads(received.read_text()) == expected_args
    [log_info] = list_eval_logs(str(task_dir))
    log = read_eval_log(log_info.name, header_only=True)
    assert log.eval.task_args == expected_args
    assert log.eval.metadata == {
        "expset_set": "scaffold-test_2025-10-18",
        "expset_run": "lr1e-4",
        "expset_kind": "fine-tuned",
        "expset_epoch": 0,
        "expset_job": 101,
        "lr": 0.0001,
        "model": "tiny, v2: yes",
        "dataset": "words, v2.json",
        "epochs": 1,
        "lora_rank": 4,
        "expset_deviations": {"evaluations.recorded.args": expected_args},  # the hand edit, with its types
    }


@pytest.mark.parametrize("character", ["#", ","])
def test_a_set_path_an_sbatch_line_or_inspect_would_cut_is_refused(site, character):
    """SLURM reads ``#`` in an ``#SBATCH`` line as the start of a comment, and inspect splits the
    checkpoint path (``-M model_path=…``) at commas; ``%`` and the rest are refused already."""
    root = site.root / f"sets{character}2025"
    root.mkdir()
    plan = site.root / "p.yaml"
    plan.write_text(to_yaml(site.plan()))
    assert expset("create", str(plan), "--yes", "--root", str(root)).exit_code == 0
    result = expset("scaffold", str(root / "scaffold-test_2025-10-18"))
    assert result.exit_code == 2
    assert f"{root}/scaffold-test_2025-10-18: the set's folder has a space" in result.stderr
    assert not list(root.rglob("*.slurm"))


def test_sbatch_lines_hold_only_values_slurm_reads_as_written(site):
    """Run and task names, site settings with every character their checks allow, the set's path: no
    ``#`` (a comment), no space, quote, ``$`` or backslash, and no ``%`` but the job id in ``--output``."""
    odd = site.data / "odd data %j #1.json"
    odd.write_text(json.dumps([{"input": "hi", "output": "HI"}]))
    set_dir = site.create(
        vary={"dataset": ["words", odd.name], "lora_rank": [8]},
        fixed={"model": "Llama-3.2-1B-Instruct", "epochs": 1},
        site={"constraint": "[a100|h100]&ib*2,(x:y)+z-w", "mail_user": "ada+x@example.org", "mail_type": "END,FAIL"},
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    lines = [line for script in set_dir.rglob("*.slurm") for line in script.read_text().splitlines()]
    options = [line.removeprefix("#SBATCH ") for line in lines if line.startswith("#SBATCH")]
    assert "--constraint=[a100|h100]&ib*2,(x:y)+z-w" in options
    for option in options:
        assert not re.search(r"[#\s\"'$`\\]", option), option
        assert option.replace("-%j.out", "").count("%") == 0, option


def test_dataset_and_task_paths_with_variables_are_recorded_expanded(site, monkeypatch):
    monkeypatch.setenv("EXPSET_DATA", str(site.data))
    monkeypatch.setenv("EXPSET_TASKS", str(site.tasks.parent))
    set_dir = site.create(
        fixed={"dataset": "$EXPSET_DATA/words.json", "lr": 1e-4, "epochs": 1},
        evaluations=[{"name": "arithmetic", "task": f"${{EXPSET_TASKS}}/{site.tasks.name}@arithmetic"}],
    )
    assert expset("scaffold", str(set_dir)).exit_code == 0
    run = set_dir / "1B_rank8"
    setup = load_yaml((run / "setup_finetune.yaml").read_text(), "setup")
    assert setup["data"]["path"] == str(site.data / "words.json")
    assert setup["evaluations"][0]["task"] == f"{site.tasks}@arithmetic"
    assert yaml.safe_load((run / "finetune.yaml").read_text())["dataset"]["data_files"] == str(site.data / "words.json")
    assert (
        f"inspect eval {site.tasks}@arithmetic" in (run / "evaluations/arithmetic/evaluate_epoch_0.slurm").read_text()
    )

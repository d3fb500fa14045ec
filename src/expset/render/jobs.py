"""A run's SLURM job scripts: its fine-tune and one evaluation job per task and evaluated epoch.

Values in ``#SBATCH`` lines were checked when the setup was validated (SLURM reads those lines
without a shell); every value that reaches the shell is quoted with ``shlex.quote``.
"""

from __future__ import annotations

import shlex
from typing import Any

from expset.core.layout import EVALUATIONS_DIR
from expset.core.setup import DISTRIBUTED_RECIPE, EvaluationSetup, RunSetup
from expset.core.values import format_value
from expset.render.finetune import render_finetune_config
from expset.render.templates import render

SETUP_FILE = "setup_finetune.yaml"
CONFIG_FILE = "finetune.yaml"
FINETUNE_SCRIPT = "finetune.slurm"
LOG_DIR = "logs"
EVALUATION_TIME = "01:00:00"


def evaluation_script_name(epoch: int) -> str:
    return f"evaluate_epoch_{epoch}.slurm"


def evaluation_result_name(epoch: int) -> str:
    """The small file an evaluation job leaves beside its log: the log's status, for ``expset status``."""
    return f"result_epoch_{epoch}.json"


def run_files(setup: RunSetup) -> list[tuple[str, str]]:
    """The files scaffold derives from a setup, as (path relative to the run folder, text)."""
    files = [(CONFIG_FILE, render_finetune_config(setup)), (FINETUNE_SCRIPT, finetune_script(setup))]
    for evaluation in setup.evaluations:
        for epoch in evaluation.epochs:
            path = f"{EVALUATIONS_DIR}/{evaluation.name}/{evaluation_script_name(epoch)}"
            files.append((path, evaluation_script(setup, evaluation, epoch)))
    return files


def directives(setup: RunSetup, gpus: int) -> list[str]:
    """The site's ``#SBATCH`` options and the GPU request, sorted for stable diffs."""
    slurm = setup.slurm
    options = {
        "account": slurm.account,
        "partition": slurm.partition,
        "qos": slurm.qos,
        "constraint": slurm.constraint,
        "mail-user": slurm.mail_user,
        "mail-type": slurm.mail_type,
        "gres": f"gpu:{gpus}" if gpus else None,
    }
    return sorted(f"--{name}={value}" for name, value in options.items() if value)


def finetune_command(setup: RunSetup) -> str:
    config = shlex.quote(f"{setup.run_dir}/{CONFIG_FILE}")
    if setup.recipe == DISTRIBUTED_RECIPE:
        return f"tune run --nproc_per_node {setup.resources.gpus} {DISTRIBUTED_RECIPE} --config {config}"
    return f"tune run {setup.recipe} --config {config}"


def finetune_script(setup: RunSetup) -> str:
    return render(
        "finetune.slurm.j2",
        {
            "job_name": setup.run,
            "run": setup.run,
            "set_name": setup.set,
            "run_dir": setup.run_dir,
            "log_dir": f"{setup.run_dir}/{LOG_DIR}",
            "resources": setup.resources.model_dump(),
            "directives": directives(setup, setup.resources.gpus),
            "environment": setup.slurm.environment,
            "command": finetune_command(setup),
        },
    )


def evaluation_script(setup: RunSetup, evaluation: EvaluationSetup, epoch: int) -> str:
    gpus = 1 if setup.training.device == "cuda" else 0
    task_dir = f"{setup.run_dir}/{EVALUATIONS_DIR}/{evaluation.name}"
    return render(
        "evaluate.slurm.j2",
        {
            "job_name": f"{setup.run}-{evaluation.name}-epoch{epoch}",
            "run": setup.run,
            "task_name": evaluation.name,
            "epoch": epoch,
            "log_dir": task_dir,
            "task_dir": task_dir,
            "resources": {"cpus": 1, "mem": setup.resources.mem, "time": EVALUATION_TIME},
            "directives": directives(setup, gpus),
            "environment": setup.slurm.environment,
            "task": evaluation.task,
            "model": f"hf/{setup.run}",
            "checkpoint": f"{setup.run_dir}/epoch_{epoch}",
            "result_file": f"{task_dir}/{evaluation_result_name(epoch)}",
            "device": setup.training.device,
            "task_args": [f"{key}={_text(value)}" for key, value in evaluation.args.items()],
            "metadata": [f"{key}={_text(value)}" for key, value in _metadata(setup, epoch).items()],
        },
    )


def _metadata(setup: RunSetup, epoch: int) -> dict[str, Any]:
    """What joins an evaluation log back to the plan: the set, the run, the epoch, every parameter."""
    return {"expset_set": setup.set, "expset_run": setup.run, "expset_epoch": epoch, **setup.parameters}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(format_value(item) for item in value)
    return format_value(value)

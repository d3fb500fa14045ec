"""A run's SLURM job scripts: its fine-tune and one evaluation job per task and evaluated epoch.

Values in ``#SBATCH`` lines were checked when the setup was validated (SLURM reads those lines
without a shell); every value that reaches the shell is quoted with ``shlex.quote``. Where the run
lives is given by the caller (where its folder is), never read from the editable setup.

Every job leaves a record when it ends (``logs/finetune.job<ID>.json``, or the evaluation's
``result_epoch_<N>.job<ID>.json`` naming its own log), so its outcome is known after SLURM has
forgotten it, and jobs that run at the same time never overwrite each other's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from expset.core.layout import (
    CANARY_DIR,
    CONFIG_FILE,
    EVALUATION_LOG_PATTERN,
    FINETUNE_SCRIPT,
    FINETUNE_STARTED,
    FINETUNE_STEP,
    LOG_DIR,
    SETUP_FILE,
    SINGLE_DEVICE_RECIPE_FILE,
    epoch_dir,
    evaluation_log_marker,
    evaluation_script,
    evaluation_step,
    job_name,
    job_record,
    run_dir_assignment,
    step_output,
    task_dir,
)
from expset.core.run_setup import DISTRIBUTED_RECIPE, EvaluationSetup, ResourcesSetup, RunSetup
from expset.core.site_settings import job_options
from expset.render.finetune import render_finetune_config
from expset.render.templates import render, source_file
from expset.render.yaml_text import to_yaml

EVALUATION_TIME = "01:00:00"


@dataclass(frozen=True)
class RunPlace:
    """Where a run lives now: its set's folder name and its own folder (absolute)."""

    set_name: str
    run_dir: str


@dataclass(frozen=True)
class Provenance:
    """Where a run's setup came from: the digest of its training inputs (``RunSetup.training_digest``,
    which the fine-tune records, so that ``status`` can tell them changed since it ran), and what a hand
    edit changed from the setup expset wrote (setup path → value, which every evaluation records)."""

    setup_digest: str = ""
    deviations: dict[str, Any] = field(default_factory=dict)


def run_files(
    setup: RunSetup, place: RunPlace, provenance: Provenance | None = None, *, sample_limit: int | None = None
) -> list[tuple[str, str]]:
    """The files scaffold derives from a setup, as (path relative to the run folder, text): a run that is
    evaluated only (a control, a checkpoint made elsewhere) has its evaluation jobs only. With
    ``sample_limit``, each evaluation scores that many samples only (a canary's)."""
    provenance = provenance or Provenance()
    files = []
    if not setup.evaluated_only:
        files += [
            (CONFIG_FILE, render_finetune_config(setup, place.run_dir)),
            (FINETUNE_SCRIPT, finetune_script(setup, place, provenance)),
        ]
        if setup.recipe != DISTRIBUTED_RECIPE:
            files.append((SINGLE_DEVICE_RECIPE_FILE, source_file(SINGLE_DEVICE_RECIPE_FILE)))
    for evaluation in setup.evaluations:
        for epoch in evaluation.epochs:
            job = evaluation_job(setup, place, evaluation, epoch, provenance, sample_limit=sample_limit)
            files.append((evaluation_script(evaluation.name, epoch), job))
    return files


def directives(setup: RunSetup, gpus: int) -> list[str]:
    """The site's ``#SBATCH`` options and the GPU request, sorted for stable diffs."""
    options = {**job_options(setup.slurm), "gres": f"gpu:{gpus}" if gpus else None}
    return sorted(f"--{name}={value}" for name, value in options.items() if value)


def finetune_command(setup: RunSetup) -> str:
    """The fine-tune's command line: on several GPUs, torchtune's distributed recipe under ``tune run``; on
    one, torchtune's single-device recipe as expset runs it, written beside the run (run as a script:
    ``tune run`` takes custom recipes only as modules of the working folder)."""
    config = f'"${{run_dir}}/{CONFIG_FILE}"'
    if setup.recipe == DISTRIBUTED_RECIPE:
        return f"tune run --nproc_per_node {setup.resources.gpus} {DISTRIBUTED_RECIPE} --config {config}"
    return f'python "${{run_dir}}/{SINGLE_DEVICE_RECIPE_FILE}" --config {config}'


def _names() -> dict[str, str]:
    """The names on disk that the job scripts mention in their comments."""
    return {"setup_file": SETUP_FILE, "log_dir": LOG_DIR, "first_epochs": f"{epoch_dir(0)}/, {epoch_dir(1)}/"}


def finetune_script(setup: RunSetup, place: RunPlace, provenance: Provenance | None = None) -> str:
    """The text of a run's ``finetune.slurm``."""
    return render(
        "finetune.slurm.j2",
        {
            **_names(),
            "step": FINETUNE_STEP,
            "job_name": job_name(place.set_name, setup.run, FINETUNE_STEP),
            "run": setup.run,
            "set_name": place.set_name,
            "run_dir_assignment": run_dir_assignment(place.run_dir),
            "output": f"{place.run_dir}/{step_output(FINETUNE_STEP)}",
            "record": job_record(FINETUNE_STEP, "${job}"),
            "setup_digest": (provenance or Provenance()).setup_digest,
            "resources": setup.resources.model_dump(),
            "directives": directives(setup, setup.resources.gpus),
            "environment": setup.slurm.environment,
            "offline": setup.slurm.offline,
            "command": finetune_command(setup),
            "last_epoch": setup.training.epochs - 1,
            "started_marker": FINETUNE_STARTED,
        },
    )


def evaluation_resources(setup: RunSetup, evaluation: EvaluationSetup) -> ResourcesSetup:
    """What an evaluation's jobs ask for; a setup written before evaluations had their own: 1 GPU, 1 hour."""
    if evaluation.resources is not None:
        return evaluation.resources
    gpus = 1 if setup.training.device == "cuda" else 0
    return ResourcesSetup(gpus=gpus, cpus=1, mem=setup.resources.mem, time=EVALUATION_TIME)


def evaluation_device(setup: RunSetup, gpus: int) -> str:
    """Where inspect's Hugging Face provider puts the model: across all the job's GPUs (``auto``) when it
    has several, on the CPU when it has none, else on the run's device."""
    return "auto" if gpus > 1 else "cpu" if gpus == 0 else setup.training.device


def evaluation_job(
    setup: RunSetup,
    place: RunPlace,
    evaluation: EvaluationSetup,
    epoch: int,
    provenance: Provenance | None = None,
    *,
    sample_limit: int | None = None,
) -> str:
    """The text of the job that evaluates ``epoch`` of a run on one task."""
    resources = evaluation_resources(setup, evaluation)
    step = evaluation_step(evaluation.name, epoch)
    return render(
        "evaluate.slurm.j2",
        {
            **_names(),
            "job_name": job_name(place.set_name, setup.run, step),
            "run": setup.run,
            "set_name": place.set_name,
            "step": step,
            "task_name": evaluation.name,
            "epoch": epoch,
            "run_dir_assignment": run_dir_assignment(place.run_dir),
            "output": f"{place.run_dir}/{step_output(step)}",
            "task_dir": task_dir(evaluation.name),
            "log_pattern": EVALUATION_LOG_PATTERN.replace("{epoch}", str(epoch)).replace("{job}", "${job}"),
            "log_marker": evaluation_log_marker(epoch, "{job}"),
            "record": job_record(step, "${job}"),
            "resources": resources.model_dump(),
            "directives": directives(setup, resources.gpus),
            "environment": setup.slurm.environment,
            "offline": setup.slurm.offline,
            "task": evaluation.task,
            "model": f"hf/{setup.run}",
            "checkpoint_path": shlex.quote(setup.model.folder)
            if setup.evaluated_only
            else f'"${{run_dir}}/{epoch_dir(epoch)}"',
            "base_folder": (setup.model.base or "") if setup.evaluated_only else setup.model.folder,
            "evaluated_folder": setup.model.folder if setup.evaluated_only else None,
            "kind": setup.kind,
            "device": evaluation_device(setup, resources.gpus),
            "greedy": _is_zero(evaluation.generate.get("temperature")),
            "sample_limit": sample_limit,
            "run_config": inspect_run_config(
                evaluation.task,
                task_arguments(setup, evaluation),
                _metadata(setup, place, epoch, (provenance or Provenance()).deviations),
                generation(setup, evaluation),
            ),
        },
    )


def _is_zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


PROMPT_TEMPLATE_ARGUMENT = "prompt_template"
"""The task argument that takes the plan's ``prompt.template``: a task that has none cannot be evaluated
with the prompt its run was trained with, which scaffold says."""


def task_arguments(setup: RunSetup, evaluation: EvaluationSetup) -> dict[str, Any]:
    """The task's arguments: the plan's, and the run's prompt template when it has one."""
    if setup.prompt.template is None:
        return dict(evaluation.args)
    return {**evaluation.args, PROMPT_TEMPLATE_ARGUMENT: setup.prompt.template}


def generation(setup: RunSetup, evaluation: EvaluationSetup) -> dict[str, Any]:
    """inspect's generation settings: the evaluation's, and the run's system prompt as its system message."""
    if setup.prompt.system is None:
        return dict(evaluation.generate)
    return {**evaluation.generate, "system_message": setup.prompt.system}


JOB_METADATA = "expset_job"


def inspect_run_config(
    task: str, args: dict[str, Any], metadata: dict[str, Any], generate: dict[str, Any] | None = None
) -> str:
    """The ``--run-config`` file of ``inspect eval`` up to the job id, which the job writes after it.

    inspect reads ``-T key=value`` and ``--metadata key=value`` as YAML and splits any text with a
    comma into a list, so text such as ``yes``, ``1e-4`` or ``a, b`` cannot be given that way. Its run
    config is one YAML document, read with PyYAML, and gives it each value with its type. The job
    writes its id at the end, read as YAML like the rest (a SLURM job id arrives as a number).
    """
    metadata = {key: value for key, value in metadata.items() if key != JOB_METADATA}
    config: dict[str, Any] = {"task": {"task": task, "args": args}}
    if generate:
        config["generate_config"] = generate
    text = to_yaml({**config, "metadata": metadata})
    return f"{text}  {JOB_METADATA}: "


def _metadata(setup: RunSetup, place: RunPlace, epoch: int, deviations: dict[str, Any]) -> dict[str, Any]:
    """What joins an evaluation log back to the plan: the set, the run, the epoch, every parameter, and
    what a hand edit of the run's setup changed from the plan."""
    prompt = setup.prompt.digest()
    return {
        "expset_set": place.set_name,
        "expset_run": setup.run,
        "expset_kind": setup.kind,
        "expset_epoch": epoch,
        **({"expset_prompt_sha256": prompt} if prompt else {}),
        **({"expset_deviations": deviations} if deviations else {}),
        **setup.parameters,
    }


def canary_files(setup: RunSetup, place: RunPlace, provenance: Provenance | None = None) -> list[tuple[str, str]]:
    """The files of a run's canary, as (path relative to the run folder, text): the run's own jobs, made
    short (``canary_setup``), in its ``canary/`` folder, each evaluation scoring a few samples."""
    from expset.core.canary import CANARY_SAMPLES, canary_setup

    inside = RunPlace(set_name=place.set_name, run_dir=f"{place.run_dir}/{CANARY_DIR}")
    files = run_files(canary_setup(setup), inside, provenance, sample_limit=CANARY_SAMPLES)
    return [(f"{CANARY_DIR}/{path}", text) for path, text in files]

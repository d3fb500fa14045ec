"""What can be checked of a plan's inputs before its set exists: its data files and task files are
there, and each fine-tune's length (samples, optimizer steps, warm-up) is sensible.

``plan`` and ``create`` run it, so that a missing file is refused before a set is named after it, and
the proposal shows how long each run trains. A dataset given by a relative name can only be looked
for where the data folder is known (the profile, or the plan's ``site``); otherwise a note says it is
looked for at scaffold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expset.core.models import ModelSpec, checkpoint_folder, find_model, nominal_weight_bytes
from expset.core.naming import ExperimentSet
from expset.core.run_length import (
    DISTRIBUTED_RECIPE,
    RunLength,
    run_length,
    training_gpus,
    training_samples,
    training_values,
)
from expset.core.site_settings import Site, merge_site
from expset.data_files import count_samples, data_location, resolve_data
from expset.errors import ProfileError, SetupError


@dataclass(frozen=True)
class Checkpoints:
    """What a fine-tune keeps on disk: an adapter at each epoch, and merged weights too when it saves them."""

    model: str
    epochs: int
    merged: bool  # it saves merged weights at every epoch (save_adapter_weights_only: false)
    merged_bytes: int | None  # one epoch's merged weights: the base model's on disk, else from its size
    measured: bool  # merged_bytes is the size of the base model's files, not from its nominal size


@dataclass(frozen=True)
class Preflight:
    """The outcome: each fine-tune's length and checkpoints (by run name), and notes on what could not be
    checked yet."""

    lengths: dict[str, RunLength] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)  # by run name: the data file, as the plan names it
    checkpoints: dict[str, Checkpoints] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    gpu_hours: float | None = None  # every job's GPUs × time limit; None when a run's model is not known yet


def preflight(experiment_set: ExperimentSet, profile: Site | None) -> Preflight:
    """Check the plan's data and task files; raise ``SetupError`` for one that is missing."""
    plan = experiment_set.plan
    site = merge_site(profile or Site(), plan.site)
    _check_tasks(experiment_set)
    validation = plan.validation
    if validation is not None and validation.file is not None and data_location(validation.file, site) is not None:
        resolve_data(validation.file, site, "validation.file")
    samples: dict[str, int | None] = {}
    unchecked: list[str] = []
    lengths: dict[str, RunLength] = {}
    datasets: dict[str, str] = {}
    checkpoints: dict[str, Checkpoints] = {}
    weights: dict[str, tuple[int | None, bool]] = {}
    for run in experiment_set.runs:
        parameters = {**run.varied, **plan.fixed}
        dataset = parameters.get("dataset")
        model = find_model(str(parameters.get("model", "")), plan.models)
        if model is not None:
            checkpoints[run.name] = _checkpoints(str(parameters["model"]), model, parameters, site, weights)
        if not isinstance(dataset, str):
            continue  # nothing to train on yet: scaffold says so
        if dataset not in samples:
            samples[dataset] = _samples(experiment_set, dataset, site, unchecked)
        if model is None:
            continue  # a set of folders only, for now: its length follows from its model
        if validation is not None and training_gpus(parameters, model) > 1:
            raise SetupError(
                f"validation: run {run.name} trains on {training_gpus(parameters, model)} GPUs, with torchtune's "
                f"{DISTRIBUTED_RECIPE} recipe, which has no validation loop (expset adds one to the single-device "
                "recipe)",
                hint="train on one GPU (gpus: 1), or leave validation out",
            )
        held_out = validation.fraction if validation is not None else None
        lengths[run.name] = run_length(parameters, model, training_samples(samples[dataset], held_out))
        datasets[run.name] = dataset
    notes = []
    if unchecked:
        notes.append(
            f"dataset {', '.join(map(repr, unchecked))} is looked for at scaffold: it is a relative name and "
            "no data folder is set here (the profile's data_folder, or site.data_folder in the plan)"
        )
    if plan.data.packed:
        notes.append("packed data: the steps per epoch depend on the packing, so they are known only when training")
    return Preflight(lengths, datasets, checkpoints, notes, requested_gpu_hours(experiment_set, site))


def requested_gpu_hours(experiment_set: ExperimentSet, site: Site) -> float | None:
    """What the set's jobs ask SLURM for, in GPU-hours: each fine-tune's and each evaluation job's GPUs ×
    time limit (an upper bound: jobs that end early are charged less); None while a run has no known model."""
    from expset.core.fixes import seconds
    from expset.core.run_setup import evaluated_epochs, evaluation_resources

    plan = experiment_set.plan
    total = 0
    for run in experiment_set.all_runs:
        parameters = {**run.varied, **plan.fixed}
        model = find_model(str(parameters.get("model", "")), plan.models)
        if model is None:
            return None
        epochs = training_values(parameters, model)["epochs"]
        if not run.evaluated_only:
            total += training_gpus(parameters, model) * seconds(str(parameters.get("time") or site.time or model.time))
        for evaluation in plan.evaluations:
            resources = evaluation_resources(evaluation, model, site, parameters)
            jobs = 1 if run.evaluated_only else len(evaluated_epochs(evaluation.epochs, epochs))
            total += resources["gpus"] * seconds(resources["time"]) * jobs
    return total / 3600


def _checkpoints(
    name: str, model: ModelSpec, parameters: dict[str, Any], site: Site, weights: dict[str, tuple[int | None, bool]]
) -> Checkpoints:
    """What a fine-tune of ``model`` keeps; the size of its weights is looked up once per model."""
    if name not in weights:
        weights[name] = _weight_bytes(name, model, site)
    training = training_values(parameters, model)
    merged_bytes, measured = weights[name]
    return Checkpoints(name, training["epochs"], not training["save_adapter_weights_only"], merged_bytes, measured)


def _weight_bytes(name: str, model: ModelSpec, site: Site) -> tuple[int | None, bool]:
    """The size of the model's checkpoint files where they are on disk, else from its nominal size."""
    folder = checkpoint_folder(name, model, site.models_folder)
    if folder is not None:
        try:
            base = Path(os.path.expandvars(folder)).expanduser()
            size = sum((base / file).stat().st_size for file in model.checkpoint_files)
            if size:  # empty files stand in for a checkpoint still being copied: no measure
                return size, True
        except OSError:
            pass
    return nominal_weight_bytes(model), False


def _samples(experiment_set: ExperimentSet, dataset: str, site: Site, unchecked: list[str]) -> int | None:
    """How many samples ``dataset`` holds (None: unknown); a ``SetupError`` naming the plan's field when
    it is missing. Added to ``unchecked`` when it cannot be looked for here."""
    if data_location(dataset, site) is None:
        unchecked.append(dataset)
        return None
    path = resolve_data(dataset, site, _dataset_field(experiment_set, dataset))
    return None if experiment_set.plan.data.packed else count_samples(path)


def _dataset_field(experiment_set: ExperimentSet, dataset: str) -> str:
    """Where the plan names ``dataset``: ``fixed.dataset`` or ``vary.dataset[i]``."""
    values = experiment_set.plan.vary.get("dataset", [])
    return f"vary.dataset[{values.index(dataset)}]" if dataset in values else "fixed.dataset"


def _check_tasks(experiment_set: ExperimentSet) -> None:
    """Each evaluation's task file is there (plans hold absolute task paths once read)."""
    for index, evaluation in enumerate(experiment_set.plan.evaluations):
        if evaluation.task is None:
            continue  # a folder only, for now: scaffold asks for the task
        file = Path(evaluation.task.rpartition("@")[0]).expanduser()
        if file.is_absolute() and not file.is_file():
            raise SetupError(f"evaluations[{index}].task: no file {file}", hint="check the task path")


def read_profile_quietly() -> tuple[Site | None, str | None]:
    """The user's profile, or None and why, when it is missing or cannot be read: the proposal then
    checks what the plan alone says."""
    from expset.site import profile_path, read_profile

    try:
        return read_profile(profile_path()), None
    except ProfileError as error:
        return None, f"the profile cannot be read ({error.message}): data files are looked for at scaffold"

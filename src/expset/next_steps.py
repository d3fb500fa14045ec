"""The steps printed after ``create`` and ``scaffold``, checked against this machine's settings and
files, so that each printed step works when it is followed."""

from __future__ import annotations

from pathlib import Path

from expset.core.models import checkpoint_folder, find_model
from expset.core.naming import ExperimentSet
from expset.core.plan import Plan
from expset.core.site_settings import Site, merge_site
from expset.core.values import ANCHORED


def before_scaffold(experiment_set: ExperimentSet, profile: Site, profile_file: Path) -> list[str]:
    """What must be set before ``expset scaffold`` can write the set's jobs, one step each."""
    plan = experiment_set.plan
    site = merge_site(profile, plan.site)
    steps = []
    if any(_model_folder(plan, site, model) is None for model in _values(experiment_set, "model")):
        steps.append(
            "set the models folder, which holds one sub-folder per model named as in `expset models`: "
            f'run `expset profile init`, or write models_folder = "/path/to/models" in {profile_file}'
        )
    if not site.data_folder and any(not data.startswith(ANCHORED) for data in _values(experiment_set, "dataset")):
        steps.append(
            "set the data folder, which holds the training data the plan names: "
            f'run `expset profile init`, or write data_folder = "/path/to/data" in {profile_file}'
        )
    return steps


def tasks_missing(experiment_set: ExperimentSet) -> str | None:
    """A note when evaluations name no task: scaffold refuses such a set."""
    missing = [evaluation.name for evaluation in experiment_set.plan.evaluations if evaluation.task is None]
    if not missing:
        return None
    return (
        f"{', '.join(missing)} {'names' if len(missing) == 1 else 'name'} no inspect task, so `expset scaffold` will "
        f"refuse this set — give each evaluation its task in the plan ({{name: {missing[0]}, task: "
        "path/to/task.py@task_name}) before creating a set to run"
    )


def before_submit(experiment_set: ExperimentSet, profile: Site, runs: list[str] | None = None) -> list[str]:
    """What must be on disk before the fine-tunes can run: each model's checkpoint folder."""
    site = merge_site(profile, experiment_set.plan.site)
    steps = []
    for model in _values(experiment_set, "model", runs):
        folder = _model_folder(experiment_set.plan, site, model)
        if folder and not Path(folder).expanduser().is_dir():
            steps.append(
                f"put the checkpoint of {model} in {folder} (its Hugging Face files, e.g. fetched with "
                "`tune download`): the fine-tune reads the model from there"
            )
    return steps


def _values(experiment_set: ExperimentSet, key: str, runs: list[str] | None = None) -> list[str]:
    """The distinct values of parameter ``key`` across the set's runs (or the runs named), as text."""
    plan = experiment_set.plan
    if key in plan.fixed:
        return [str(plan.fixed[key])]
    values = plan.vary.get(key, [])
    if runs is not None:
        values = [run.varied[key] for run in experiment_set.all_runs if run.name in runs and key in run.varied]
    return [str(value) for value in dict.fromkeys(values)]


def _model_folder(plan: Plan, site: Site, name: str) -> str | None:
    """Where model ``name``'s checkpoint is; None when that takes a models folder and none is set; empty
    for a model expset does not know (scaffold names it)."""
    model = find_model(name, plan.models)
    return "" if model is None else checkpoint_folder(name, model, site.models_folder)

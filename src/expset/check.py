"""``expset check``: what would make a job die seconds after hours in the queue, found before it is queued.

Reads each scaffolded run's setup and looks at what its jobs will need: the model folder holds the
checkpoint and tokenizer files its config names; each data file parses and its first records have the
fields the data format needs; each task file imports and defines its task; the set's file system has
room for the checkpoints; the account, partition and QoS exist where SLURM can say. Also totals what
the set asks for: GPU-hours and checkpoint bytes. Never imports torch; task files are imported in a
subprocess (in the job environment when the profile configures one), with a timeout.
"""

from __future__ import annotations

import getpass
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from expset.core.fixes import seconds
from expset.core.layout import INPUTS_RECORD, SETUP_FILE
from expset.core.naming import FINE_TUNED, ExperimentSet, Run
from expset.core.run_setup import RunSetup
from expset.data_files import read_records
from expset.errors import ExpsetError
from expset.sets import choose_runs, read_setup
from expset.slurm.client import SlurmClient
from expset.task_check import TASK_IMPORT_TIMEOUT, parse_tasks, start_task_check
from expset.tracking import list_folder


@dataclass
class CheckReport:
    """One line per problem found, notes on what could not be checked, and what the set asks for."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, int | None] = field(default_factory=dict)  # data file → records
    gpu_hours: float = 0.0  # every job's GPUs × time limit
    checkpoint_bytes: int = 0  # the merged weights the fine-tunes not yet run will write
    free_bytes: int | None = None  # on the set's file system
    runs: int = 0
    accepted: list[str] = field(default_factory=list)  # --accept-inputs: the inputs whose record changed


def check_set(
    experiment_set: ExperimentSet,
    set_dir: Path,
    client: SlurmClient | None,
    *,
    runs: list[str] | None = None,
    import_tasks: bool = True,
    task_timeout: float = TASK_IMPORT_TIMEOUT,
    accept_inputs: bool = False,
) -> CheckReport:
    """Check the chosen runs' inputs and the cluster's settings; see the module's docstring.

    Without ``import_tasks`` task files are only parsed (``scaffold``'s check: importing inspect takes
    seconds); with it, each is imported unless the same file was imported in the same environment by an
    earlier check of the set. With ``accept_inputs``, the data and task files found now are recorded as the
    set's inputs instead of being compared with the record (see ``inputs``).
    """
    report = CheckReport()
    setups: dict[str, RunSetup] = {}
    chosen = {run.name: run for run in choose_runs(experiment_set, runs)}
    for run in chosen.values():
        path = set_dir / run.name / SETUP_FILE
        if not path.is_file():
            report.problems.append(f"run {run.name}: not scaffolded yet (no {SETUP_FILE}): run `expset scaffold`")
            continue
        try:
            setups[run.name] = read_setup(path)
        except ExpsetError as error:
            report.problems.append(error.message)
    report.runs = len(setups)
    tasks = start_task_check(set_dir, setups, task_timeout) if import_tasks else parse_tasks(setups)
    fine_tuned = {run.name for run in experiment_set.all_runs if run.kind == FINE_TUNED}
    _check_models(setups, fine_tuned, report)
    _check_data(setups, fine_tuned, report)
    _check_inputs(
        experiment_set, set_dir, {name: (chosen[name], setup) for name, setup in setups.items()}, report, accept_inputs
    )
    _totals(set_dir, setups, fine_tuned, report)
    if client is not None:
        _check_slurm(setups, client, report)
    report.problems += tasks.finish()
    report.notes += tasks.notes
    return report


def checkpoint_files(setup: RunSetup) -> list[str]:
    """The checkpoint files the run's config names, relative to the model folder."""
    return checkpoint_names(setup.model.checkpoint_files)


def checkpoint_names(files: list[str] | dict[str, str]) -> list[str]:
    """Checkpoint files as a model names them: a list, or torchtune's ``{filename_format, max_filename}``
    spelt out (``model-{}-of-{}.safetensors`` with ``00004``)."""
    if isinstance(files, list):
        return list(files)
    last = files.get("max_filename", "")
    if not last.isdigit():
        return []
    return [files["filename_format"].format(str(number).zfill(len(last)), last) for number in range(1, int(last) + 1)]


def _check_models(setups: dict[str, RunSetup], fine_tuned: set[str], report: CheckReport) -> None:
    """Each model folder a fine-tune loads holds its checkpoint and tokenizer files, none of them empty (a copy
    that did not finish); each checkpoint a run that is evaluated only names is there."""
    loaded: set[str] = set()
    evaluated: set[str] = set()
    for run, setup in setups.items():
        folder = Path(setup.model.folder)
        if run not in fine_tuned:
            if str(folder) not in evaluated and not folder.exists():
                report.problems.append(f"run {run}: no checkpoint at {folder}")
            evaluated.add(str(folder))
            continue
        if str(folder) in loaded:
            continue
        loaded.add(str(folder))
        if not folder.is_dir():
            report.problems.append(f"model {setup.model.name}: no folder {folder} (model.folder of run {run})")
            continue
        names = checkpoint_files(setup)
        if not names:
            report.problems.append(
                f"model {setup.model.name}: checkpoint_files {setup.model.checkpoint_files} names no file "
                "(max_filename must be a number such as 00004)"
            )
        wanted = names + list(setup.model.tokenizer_files.values())
        missing = [name for name in wanted if not (folder / name).is_file()]
        empty = [name for name in wanted if name not in missing and (folder / name).stat().st_size == 0]
        if missing:
            report.problems.append(
                f"model {setup.model.name}: {folder} lacks {', '.join(missing)} (its config loads them)"
            )
        if empty:
            report.problems.append(
                f"model {setup.model.name}: {', '.join(empty)} in {folder} is empty (a copy that did not finish?)"
            )


def required_fields(setup: RunSetup) -> list[str]:
    """The fields each record of the run's data must have, in its format."""
    data = setup.data
    if data.format == "instruct":
        return [data.fields.get("input", "input"), data.fields.get("output", "output")]
    if data.format == "chat":
        return [data.fields.get("messages", "messages")]
    return [data.fields.get("text", "text")]


def _check_data(setups: dict[str, RunSetup], fine_tuned: set[str], report: CheckReport) -> None:
    """Each data file parses, and its first records have the fields its format needs; records counted."""
    checked: set[tuple[str, tuple[str, ...]]] = set()
    for run, setup in setups.items():
        if run not in fine_tuned:
            continue
        wanted = tuple(required_fields(setup))
        files = [setup.data.path] + ([setup.validation.path] if setup.validation is not None else [])
        for path in files:
            if (path, wanted) in checked:
                continue
            checked.add((path, wanted))
            records, problem = read_records(path)
            if problem is not None:
                report.problems.append(f"data {path}: {problem}")
                continue
            report.samples[path] = records.count
            for number, record in enumerate(records.first, start=1):
                absent = [name for name in wanted if not isinstance(record, dict) or name not in record]
                if absent:
                    have = ", ".join(map(repr, record)) if isinstance(record, dict) else type(record).__name__
                    report.problems.append(
                        f"data {path}: record {number} has no {', '.join(map(repr, absent))} field "
                        f"(it has {have}); {setup.data.format} data needs {', '.join(map(repr, wanted))}",
                    )
                    break


def _check_inputs(
    experiment_set: ExperimentSet,
    set_dir: Path,
    runs: dict[str, tuple[Run, RunSetup]],
    report: CheckReport,
    accept: bool,
) -> None:
    """Each data and task file is byte-identical to the one recorded when the set was first scaffolded (a set
    moved to another cluster reads the same data there); with ``accept``, the files found now are recorded."""
    from expset.inputs import DigestCache, accept_inputs, differences, digests, read_inputs, run_inputs

    wanted = {item for run, setup in runs.values() for item in run_inputs(experiment_set, run, setup)}
    cache = DigestCache(set_dir)
    found, unreadable = digests(wanted, cache)
    cache.save()
    report.notes += unreadable
    if accept:
        report.accepted = accept_inputs(set_dir, found)
        return
    recorded = read_inputs(set_dir)
    if found and not recorded:
        report.notes.append(f"data and task files not compared: the set has no record of them ({INPUTS_RECORD})")
    report.problems += differences(recorded, found, f"expset check {shlex.quote(str(set_dir))} --accept-inputs")


def _totals(set_dir: Path, setups: dict[str, RunSetup], fine_tuned: set[str], report: CheckReport) -> None:
    """GPU-hours asked for, the merged weights still to be written, and whether they fit."""
    from expset.clean_record import cleaned_folders
    from expset.render.run_files import evaluation_resources

    cleaned = cleaned_folders(set_dir)
    weights: dict[str, int | None] = {}
    for run, setup in setups.items():
        if run in fine_tuned:
            report.gpu_hours += setup.resources.gpus * seconds(setup.resources.time) / 3600
        for evaluation in setup.evaluations:
            resources = evaluation_resources(setup, evaluation)
            report.gpu_hours += resources.gpus * seconds(resources.time) * len(evaluation.epochs) / 3600
        if run not in fine_tuned or setup.training.save_adapter_weights_only:
            continue
        if run in cleaned or any(name.startswith("epoch_") for name in list_folder(set_dir / run)):
            continue  # already training or trained: its checkpoints are on disk, or were cleaned
        if setup.model.folder not in weights:
            weights[setup.model.folder] = _folder_bytes(setup) or _nominal(setup)
        report.checkpoint_bytes += (weights[setup.model.folder] or 0) * setup.training.epochs
    try:
        report.free_bytes = shutil.disk_usage(set_dir).free
    except OSError:
        return
    if report.checkpoint_bytes > report.free_bytes:
        report.problems.append(
            f"disk: the fine-tunes will write about {report.checkpoint_bytes / 1e9:.1f} GB of merged weights, and "
            f"{set_dir} has {report.free_bytes / 1e9:.1f} GB free (save_adapter_weights_only: true keeps megabytes)"
        )


def _folder_bytes(setup: RunSetup) -> int | None:
    try:
        return sum((Path(setup.model.folder) / name).stat().st_size for name in checkpoint_files(setup))
    except OSError:
        return None


def _nominal(setup: RunSetup) -> int | None:
    from expset.core.models import lookup_model, nominal_weight_bytes

    model = lookup_model(setup.model.name)
    return nominal_weight_bytes(model) if model is not None else None


def describe(report: CheckReport) -> list[str]:
    """The check's findings as lines: each data file's records, then what the set asks for."""
    lines = [f"data {path}: {count:,} records" for path, count in sorted(report.samples.items()) if count is not None]
    disk = f"{report.checkpoint_bytes / 1e9:.1f} GB of merged weights" if report.checkpoint_bytes else "adapters only"
    free = f" ({report.free_bytes / 1e9:,.0f} GB free)" if report.free_bytes is not None else ""
    lines.append(f"{report.runs} run(s) ask for {report.gpu_hours:,.1f} GPU-hours at most; checkpoints: {disk}{free}")
    return lines


def _check_slurm(setups: dict[str, RunSetup], client: SlurmClient, report: CheckReport) -> None:
    """The partitions, accounts and QoS the runs ask for exist, where SLURM can say."""
    asked = {(s.slurm.account, s.slurm.partition, s.slurm.qos) for s in setups.values()}
    partitions = client.partitions()
    if partitions is None:
        report.notes.append("partitions not checked: sinfo did not answer")
    else:
        wanted = {name for _, partition, _ in asked if partition for name in partition.split(",")}
        for name in sorted(wanted - partitions):
            report.problems.append(
                f"slurm.partition {name!r}: no such partition here (sinfo lists {_list(partitions)})"
            )
    if not any(account or qos for account, _, qos in asked):
        return
    associations = client.associations(getpass.getuser())
    if associations is None:
        report.notes.append("account and QoS not checked: this cluster's accounting (sacctmgr) does not answer")
        return
    accounts = {account for account, _ in associations}
    qos_names = {name for _, names in associations for name in names}
    for name in sorted({account for account, _, _ in asked if account} - accounts):
        report.problems.append(f"slurm.account {name!r}: you have no association with it (yours: {_list(accounts)})")
    for name in sorted({qos for _, _, qos in asked if qos} - qos_names):
        report.problems.append(f"slurm.qos {name!r}: not one your associations allow ({_list(qos_names)})")


def _list(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"

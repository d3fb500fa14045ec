"""``expset check``: what would make a job die seconds after hours in the queue, found before it is queued.

Reads each scaffolded run's setup and looks at what its jobs will need: the model folder holds the
checkpoint and tokenizer files its config names; each data file parses and its first records have the
fields the data format needs; each task file imports and defines its task; the set's file system has
room for the checkpoints; the account, partition and QoS exist where SLURM can say. Also totals what
the set asks for: GPU-hours and checkpoint bytes. Never imports torch; task files are imported in a
subprocess (in the job environment when the profile configures one), with a timeout.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from expset.core.fixes import seconds
from expset.core.layout import SETUP_FILE, TASKS_CHECKED
from expset.core.naming import FINE_TUNED, ExperimentSet
from expset.core.run_setup import RunSetup
from expset.errors import ExpsetError
from expset.sets import choose_runs, read_setup
from expset.slurm.client import SlurmClient

TASK_IMPORT_TIMEOUT = 120.0
"""Seconds a task file's import may take (inspect-ai itself takes a few)."""
RECORDS_LOOKED_AT = 5
"""The first records of each data file whose fields are checked."""


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


def check_set(
    experiment_set: ExperimentSet,
    set_dir: Path,
    client: SlurmClient | None,
    *,
    runs: list[str] | None = None,
    import_tasks: bool = True,
    task_timeout: float = TASK_IMPORT_TIMEOUT,
) -> CheckReport:
    """Check the chosen runs' inputs and the cluster's settings; see the module's docstring.

    Without ``import_tasks`` task files are only parsed (``scaffold``'s check: importing inspect takes
    seconds); with it, each is imported unless the same file was imported in the same environment by an
    earlier check of the set.
    """
    report = CheckReport()
    setups: dict[str, RunSetup] = {}
    for run in choose_runs(experiment_set, runs):
        path = set_dir / run.name / SETUP_FILE
        if not path.is_file():
            report.problems.append(f"run {run.name}: not scaffolded yet (no {SETUP_FILE}): run `expset scaffold`")
            continue
        try:
            setups[run.name] = read_setup(path)
        except ExpsetError as error:
            report.problems.append(error.message)
    report.runs = len(setups)
    tasks = _start_task_check(set_dir, setups, task_timeout) if import_tasks else _parse_tasks(setups)
    fine_tuned = {run.name for run in experiment_set.all_runs if run.kind == FINE_TUNED}
    _check_models(setups, fine_tuned, report)
    _check_data(setups, fine_tuned, report)
    _totals(set_dir, setups, fine_tuned, report)
    if client is not None:
        _check_slurm(setups, client, report)
    report.problems += tasks.finish()
    report.notes += tasks.notes
    return report


def _parse_tasks(setups: dict[str, RunSetup]) -> _TaskCheck:
    """The task files' problems that their syntax shows, without importing them."""
    from expset.task_files import static_task_problem

    found = _TaskCheck(None, 0)
    for task in sorted({evaluation.task for setup in setups.values() for evaluation in setup.evaluations}):
        problem = static_task_problem(task)
        if problem is not None:
            file, _, name = task.rpartition("@")
            found.problems.append(f"task {name} in {file}: {problem}")
    return found


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
    """Each model folder a fine-tune loads holds its checkpoint and tokenizer files; each checkpoint an
    evaluation-only run names is there."""
    seen: set[str] = set()
    for run, setup in setups.items():
        folder = Path(setup.model.folder)
        if run not in fine_tuned:
            if not folder.exists() and str(folder) not in seen:
                report.problems.append(f"run {run}: no checkpoint at {folder}")
            seen.add(str(folder))
            continue
        if str(folder) in seen:
            continue
        seen.add(str(folder))
        if not folder.is_dir():
            report.problems.append(f"model {setup.model.name}: no folder {folder} (model.folder of run {run})")
            continue
        wanted = checkpoint_files(setup) + list(setup.model.tokenizer_files.values())
        missing = [name for name in wanted if not (folder / name).is_file()]
        if missing:
            report.problems.append(
                f"model {setup.model.name}: {folder} lacks {', '.join(missing)} (its config loads them)"
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
        if (setup.data.path, wanted) in checked:
            continue
        checked.add((setup.data.path, wanted))
        records, problem = read_records(setup.data.path)
        if problem is not None:
            report.problems.append(f"data {setup.data.path}: {problem}")
            continue
        report.samples[setup.data.path] = records.count
        for number, record in enumerate(records.first, start=1):
            absent = [name for name in wanted if not isinstance(record, dict) or name not in record]
            if absent:
                have = ", ".join(map(repr, record)) if isinstance(record, dict) else type(record).__name__
                report.problems.append(
                    f"data {setup.data.path}: record {number} has no {', '.join(map(repr, absent))} field "
                    f"(it has {have}); {setup.data.format} data needs {', '.join(map(repr, wanted))}",
                )
                break


@dataclass
class Records:
    count: int
    first: list[object]


def read_records(path: str) -> tuple[Records, str | None]:
    """The number of records in a JSON or JSONL data file and its first few, or why it cannot be read."""
    empty = Records(0, [])
    try:
        if path.endswith(".jsonl"):
            first: list[object] = []
            count = 0
            with open(path, "rb") as lines:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    count += 1
                    if len(first) < RECORDS_LOOKED_AT:
                        try:
                            first.append(json.loads(line))
                        except ValueError as error:
                            return empty, f"line {number} is not JSON ({error})"
            return Records(count, first), None if count else "no records"
        with open(path, encoding="utf-8") as file:
            content = json.load(file)
    except OSError as error:
        return empty, f"cannot be read ({error.strerror})"
    except UnicodeDecodeError:
        return empty, "not UTF-8 text"
    except ValueError as error:
        return empty, f"not JSON ({error})"
    if not isinstance(content, list):
        return empty, "a JSON file of training data must hold a list of records"
    return Records(len(content), content[:RECORDS_LOOKED_AT]), None if content else "no records"


def _totals(set_dir: Path, setups: dict[str, RunSetup], fine_tuned: set[str], report: CheckReport) -> None:
    """GPU-hours asked for, the merged weights still to be written, and whether they fit."""
    from expset.render.run_files import evaluation_resources

    weights: dict[str, int | None] = {}
    for run, setup in setups.items():
        if run in fine_tuned:
            report.gpu_hours += setup.resources.gpus * seconds(setup.resources.time) / 3600
        for evaluation in setup.evaluations:
            resources = evaluation_resources(setup, evaluation)
            report.gpu_hours += resources.gpus * seconds(resources.time) * len(evaluation.epochs) / 3600
        if run not in fine_tuned or setup.training.save_adapter_weights_only:
            continue
        if any(name.startswith("epoch_") for name in _names(set_dir / run)):
            continue  # already training or trained: its checkpoints are on disk
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


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


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
        for name in sorted({partition for _, partition, _ in asked if partition} - partitions):
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


@dataclass
class _TaskCheck:
    """The task files' import, running in a subprocess while the other checks go on."""

    process: subprocess.Popen[str] | None
    timeout: float
    fallback: list[str] | None = None  # the import with this Python, when the job environment fails here
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    remember: Callable[[set[str]], None] | None = None  # hears of the tasks that imported

    def finish(self) -> list[str]:
        if self.process is None:
            return self.problems
        try:
            stdout, stderr = self.process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return [f"task files: importing them took more than {self.timeout:g} s; not checked"]
        if self.process.returncode == ENVIRONMENT_FAILED and self.fallback is not None:
            line = stderr.strip().splitlines()[-1] if stderr.strip() else "an environment line failed"
            self.notes.append(
                f"the job environment does not set up here ({line}): task files imported with {sys.executable}"
            )
            retry, self.fallback = self.fallback, None
            self.process = subprocess.Popen(retry, **_PIPES)
            return self.finish()
        answers = {}
        for line in stdout.splitlines():
            if line.startswith("expset-task\t"):
                _, file, name, problem = line.split("\t", 3)
                answers[(file, name)] = problem
        if not answers:
            said = (stderr.strip().splitlines() or [f"exit status {self.process.returncode}"])[-1]
            self.notes.append(f"task files not checked: the job environment did not start here ({said})")
            return []
        if self.remember is not None:
            self.remember({f"{file}@{name}" for (file, name), problem in answers.items() if problem == "ok"})
        return [
            f"task {name} in {file}: {problem}" for (file, name), problem in sorted(answers.items()) if problem != "ok"
        ]


_TASK_PROBE = r"""
import importlib.util, sys, traceback
for item in sys.argv[1:]:
    file, _, name = item.rpartition("@")
    try:
        spec = importlib.util.spec_from_file_location("expset_task_probe", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        problem = "ok" if callable(getattr(module, name, None)) else "the file defines no task of that name"
    except BaseException as error:
        problem = f"does not import: {type(error).__name__}: {error}".replace("\n", " ").replace("\t", " ")
    print(f"expset-task\t{file}\t{name}\t{problem}", flush=True)
"""


ENVIRONMENT_FAILED = 97
"""The exit status of the task probe when a line of the job environment failed here."""
_PIPES: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "stdin": subprocess.DEVNULL, "text": True}


def _start_task_check(set_dir: Path, setups: dict[str, RunSetup], timeout: float) -> _TaskCheck:
    """Start importing every task file the runs evaluate with: in the job environment when the profile has
    one (with this Python instead if that environment fails on this machine), else with this Python.
    Tasks whose file and environment are as they were when an earlier check imported them are skipped."""
    import shlex

    environment = next((setup.slurm.environment for setup in setups.values() if setup.slurm.environment), [])
    tasks = sorted({evaluation.task for setup in setups.values() for evaluation in setup.evaluations})
    checked = _read_checked(set_dir)
    stamps = {task: _stamp(task, environment) for task in tasks}
    wanted = [task for task in tasks if stamps[task] is None or checked.get(task) != stamps[task]]
    if not wanted:
        return _TaskCheck(None, timeout)

    def remember(imported: set[str]) -> None:
        _write_checked(set_dir, {**checked, **{task: stamps[task] for task in imported if stamps.get(task)}})

    here = [sys.executable, "-c", _TASK_PROBE, *wanted]
    if not environment:
        return _TaskCheck(subprocess.Popen(here, **_PIPES), timeout, remember=remember)
    lines = [
        f"{line} || {{ echo {shlex.quote(line)}': failed' >&2; exit {ENVIRONMENT_FAILED}; }}" for line in environment
    ]
    probe = shlex.join(["python", "-c", _TASK_PROBE, *wanted])
    process = subprocess.Popen(["bash", "-c", "\n".join([*lines, probe])], **_PIPES)
    return _TaskCheck(process, timeout, fallback=here, remember=remember)


def _stamp(task: str, environment: list[str]) -> str | None:
    """What a task's import depends on that expset can see: its file's content and the job environment."""
    import hashlib

    try:
        content = Path(task.rpartition("@")[0]).read_bytes()
    except OSError:
        return None
    return hashlib.sha256(content + "\0".join(environment).encode()).hexdigest()


def _read_checked(set_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((set_dir / TASKS_CHECKED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)} if isinstance(data, dict) else {}


def _write_checked(set_dir: Path, checked: dict[str, str]) -> None:
    """Remember the tasks that imported; a set that cannot be written to is checked again next time."""
    from expset.fs.inside import write_file

    with contextlib.suppress(OSError, ExpsetError):
        write_file(set_dir, TASKS_CHECKED, json.dumps(checked, indent=1, sort_keys=True) + "\n")

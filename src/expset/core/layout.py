"""What an experiment set looks like on disk, as plain data: folders and files, relative to the set.

``plan_layout`` never touches the disk. The preview prints this layout and the writer applies it,
so what is shown before approval is by construction what gets written. The names of the files that
scaffold and the jobs add to a run — scripts, logs, the records each job leaves — are built here
too, each beside the parser that reads it back, so writers and readers cannot drift apart.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from enum import Enum

from expset.core.naming import ExperimentSet

PLAN_FILE = "expset.yaml"
README_FILE = "README.md"
RUNS_PLAN_FILE = "runs_plan.md"
RUNS_TABLE_FILE = "runs.csv"
RUN_FILE = "run.yaml"
SINGLE_DEVICE_RECIPE_FILE = "lora_single_device.py"
"""torchtune's single-device LoRA recipe as expset runs it (resumed where it stopped, a validation loss when
asked), written beside each run that trains on one device."""
EVALUATIONS_DIR = "evaluations"

SETUP_FILE = "setup_finetune.yaml"
CONFIG_FILE = "finetune.yaml"
FINETUNE_SCRIPT = "finetune.slurm"
LOG_DIR = "logs"
"""A run's SLURM output and job records; scaffold creates it, since SLURM does not create --output folders."""
FINETUNE_STARTED = f"{LOG_DIR}/finetune.started"
"""The setup digest of a run's latest fresh fine-tune start: an epoch saved after it may be resumed from."""
REPORT_DIR = "report"
"""Where ``expset report`` writes the set's answer; replaced whole by each report."""

STATE_DIR = ".expset"
"""expset's own records inside a set: the job ledger, the generated-files record, the submit lock."""
TASKS_CHECKED = f"{STATE_DIR}/tasks_checked.json"
"""The task files ``expset check`` imported without a problem, with the digest of the file and job
environment they imported in: an unchanged task is not imported again."""
LEDGER_FILE = f"{STATE_DIR}/jobs.jsonl"
GENERATED_RECORD = f"{STATE_DIR}/generated.json"
DEVIATIONS_RECORD = f"{STATE_DIR}/deviations.json"
"""Per run, what its hand-edited setup changes from the plan (setup path → value), as scaffold last found it."""
TRAINING_DIGESTS = f"{STATE_DIR}/training.json"
"""Per run, the digest of the training inputs its scripts were last written from (``RunSetup.training_digest``)."""
SETUP_SNAPSHOTS = f"{STATE_DIR}/setups"
"""Each run's setup_finetune.yaml as expset last wrote it: what a hand edit is measured against."""


def setup_snapshot(run: str) -> str:
    """Where the setup expset last wrote for ``run`` is kept, relative to the set."""
    return f"{SETUP_SNAPSHOTS}/{run}.yaml"


SUBMIT_LOCK = f"{STATE_DIR}/submit.lock"
CLEANED_RECORD = f"{STATE_DIR}/cleaned.jsonl"
"""What ``expset clean`` removed, one JSON line per checkpoint folder (time, user, run, folder, files, bytes),
appended and never rewritten: a checkpoint recorded here was removed on purpose; one missing and not
recorded here went some other way."""
INPUTS_RECORD = f"{STATE_DIR}/inputs.json"
"""The data and task files the runs read, each by the plan's name for it, with the path, size and SHA-256
found when the set was first scaffolded: ``check`` compares the files found now against it, so a set moved
to another cluster is known to read the same bytes there. Kept until ``check --accept-inputs`` replaces it."""
INPUT_HASHES = f"{STATE_DIR}/input_hashes.json"
"""A cache of the SHA-256 of input files by path, size, modification time, device and inode, so that an
unchanged data file is not read again by every scaffold and check."""

FINETUNE_STEP = "finetune"
_EVALUATION_STEP = re.compile(r"evaluate/([A-Za-z0-9][A-Za-z0-9._-]*)/epoch_(\d+)")
_EPOCH_DIR = re.compile(r"epoch_(\d+)")
_JOB_RECORD = re.compile(r"job([A-Za-z0-9_]+)\.json")  # an array task's id: 1234_5


def epoch_dir(epoch: int) -> str:
    """The checkpoint folder torchtune writes after ``epoch`` (numbered from 0)."""
    return f"epoch_{epoch}"


def parse_epoch_dir(name: str) -> int | None:
    """``epoch_<N>`` → N; None for any other name."""
    match = _EPOCH_DIR.fullmatch(name)
    return int(match.group(1)) if match else None


_REMOVING_DIR = re.compile(r"\.epoch_(\d+)\.removing-([0-9a-f]+)")


def removing_dir(epoch: int, token: str) -> str:
    """The hidden name ``expset clean`` gives a checkpoint folder before removing it: from that rename on the
    epoch is gone for torchtune's resume, ``status`` and everyone else, so an interrupted removal never leaves
    half an epoch under its own name. ``token`` ties it to its line in the clean record."""
    return f".{epoch_dir(epoch)}.removing-{token}"


def parse_removing_dir(name: str) -> tuple[int, str] | None:
    """``.epoch_<N>.removing-<token>`` → (N, token); None for any other name."""
    match = _REMOVING_DIR.fullmatch(name)
    return (int(match.group(1)), match.group(2)) if match else None


def evaluation_step(task: str, epoch: int) -> str:
    """The ledger's name for the evaluation of ``task`` after ``epoch``."""
    return f"evaluate/{task}/epoch_{epoch}"


def parse_evaluation_step(step: str) -> tuple[str, int] | None:
    """``evaluate/<task>/epoch_<N>`` → (task, N); None for the fine-tune or a malformed name."""
    match = _EVALUATION_STEP.fullmatch(step)
    return (match.group(1), int(match.group(2))) if match else None


def is_step(step: str) -> bool:
    """Whether ``step`` is a step name expset writes: the fine-tune or an evaluation of an epoch, or
    either of a canary."""
    if step == FINETUNE_STEP or parse_evaluation_step(step) is not None:
        return True
    inner = parse_canary_step(step)
    return inner is not None and (inner == FINETUNE_STEP or parse_evaluation_step(inner) is not None)


CANARY_DIR = "canary"
"""A run's canary (``submit --canary``): a few steps of its fine-tune and a few samples of each evaluation,
in a folder of its own inside the run, so that nothing of it is taken for the run's results."""


def canary_step(step: str) -> str:
    """The ledger's name for ``step`` of a run's canary."""
    return f"{CANARY_DIR}/{step}"


def parse_canary_step(step: str) -> str | None:
    """``canary/<step>`` → ``<step>``; None for any other step."""
    prefix = f"{CANARY_DIR}/"
    return step[len(prefix) :] if step.startswith(prefix) else None


def task_dir(task: str) -> str:
    """A task's folder in a run: ``evaluations/<task>``."""
    return f"{EVALUATIONS_DIR}/{task}"


def evaluation_script(task: str, epoch: int) -> str:
    """A run's evaluation job of ``task`` after ``epoch``, relative to the run folder."""
    return f"{task_dir(task)}/evaluate_epoch_{epoch}.slurm"


def run_dir_assignment(run_dir: str) -> str:
    """The line of every job script that says where its run lives; ``submit`` refuses a script whose
    line names another folder (a set moved or copied and not scaffolded again)."""
    return f"run_dir={shlex.quote(run_dir)}"


def _step_files(step: str) -> tuple[str, str, str]:
    """Where a step's files go, relative to the run folder: (folder, stem of SLURM's output, stem of
    the job records). The fine-tune's go in ``logs/``, an evaluation's beside its logs."""
    inner = parse_canary_step(step)
    if inner is not None:
        folder, output, record = _step_files(inner)
        return f"{CANARY_DIR}/{folder}", output, record
    evaluation = parse_evaluation_step(step)
    if evaluation is None:
        return LOG_DIR, FINETUNE_STEP, FINETUNE_STEP
    task, epoch = evaluation
    return task_dir(task), epoch_dir(epoch), f"result_{epoch_dir(epoch)}"


def step_output(step: str) -> str:
    """Where SLURM writes a step's output (``%j`` is the job id), relative to the run folder."""
    folder, output, _ = _step_files(step)
    return f"{folder}/{output}-%j.out"


def job_record_prefix(step: str) -> str:
    """Every job record of ``step`` starts with this (relative to the run folder)."""
    folder, _, record = _step_files(step)
    return f"{folder}/{record}."


def job_record(step: str, job_id: str) -> str:
    """The small JSON file a job leaves when it ends: its exit status, and for an evaluation its log.

    One file per job, so reruns and jobs that run at the same time never overwrite each other's.
    """
    return f"{job_record_prefix(step)}job{job_id}.json"


def parse_job_record(name: str, prefix_name: str) -> str | None:
    """The job id in a record's file name, given the name part of ``job_record_prefix``."""
    if not name.startswith(prefix_name):
        return None
    match = _JOB_RECORD.fullmatch(name[len(prefix_name) :])
    return match.group(1) if match else None


EVALUATION_LOG_PATTERN = "{task}_epoch{epoch}_job{job}_{id}"
"""The inspect log's file name after its creation time (``INSPECT_EVAL_LOG_FILE_PATTERN``): each
evaluation job finds exactly the log it wrote, even when the jobs of several epochs share a folder."""


def evaluation_log_marker(epoch: int, job: str) -> str:
    """What the name of the log of ``job`` evaluating ``epoch`` holds, whatever the task and time:
    ``EVALUATION_LOG_PATTERN`` without the task before it and the log id after it."""
    return EVALUATION_LOG_PATTERN.removeprefix("{task}").removesuffix("{id}").format(epoch=epoch, job=job)


_EVALUATION_RECORD = re.compile(r"result_epoch_(\d+)\.job([A-Za-z0-9_]+)\.json")


def parse_evaluation_record(name: str) -> tuple[int, str] | None:
    """``result_epoch_<N>.job<ID>.json`` → (N, ID)."""
    match = _EVALUATION_RECORD.fullmatch(name)
    return (int(match.group(1)), match.group(2)) if match else None


def parse_run_dir_assignment(line: str) -> str | None:
    """The folder a script's ``run_dir=…`` line names, or None if ``line`` is not one."""
    if not line.startswith("run_dir="):
        return None
    try:
        words = shlex.split(line[len("run_dir=") :])
    except ValueError:  # an unbalanced quote: not a line expset wrote
        return None
    return words[0] if len(words) == 1 else None


def job_name(set_name: str, run: str, step: str) -> str:
    """The SLURM job name: the run and step first (what differs in ``squeue``), then ``@set``."""
    evaluation = parse_evaluation_step(step)
    what = run if evaluation is None else f"{run}.{evaluation[0]}.epoch{evaluation[1]}"
    return f"{what}@{set_name}"


class FileKind(str, Enum):
    """Which renderer produces a file."""

    README = "readme"
    RUNS_PLAN = "runs_plan"
    PLAN = "plan"
    RUNS_TABLE = "runs_table"
    RUN = "run"


FILE_PURPOSES = {
    FileKind.README: "purpose, what varies, the naming convention, the runs, next steps",
    FileKind.RUNS_PLAN: "every run and the full expected structure of a run",
    FileKind.PLAN: "the approved plan, fully resolved, for provenance",
    FileKind.RUNS_TABLE: "one row per run with every parameter, for joining with results",
    FileKind.RUN: "this run's parameters, so the run folder explains itself",
}


SET_FILES = (
    (README_FILE, FileKind.README),
    (RUNS_PLAN_FILE, FileKind.RUNS_PLAN),
    (PLAN_FILE, FileKind.PLAN),
    (RUNS_TABLE_FILE, FileKind.RUNS_TABLE),
)
"""The files at the top of every set, in the order they are listed and written."""


@dataclass(frozen=True)
class PlannedFile:
    """A file to write: where, which renderer, and for per-run files the index of its run (in ``all_runs``)."""

    path: str
    kind: FileKind
    run_index: int | None = None


@dataclass(frozen=True)
class SetLayout:
    """Every folder (parents before children) and file of a set, relative to the set folder."""

    directories: tuple[str, ...]
    files: tuple[PlannedFile, ...]


def run_directories(run_name: str, tasks: list[str]) -> list[str]:
    """A run folder and its evaluation folders, parents first."""
    evaluations = f"{run_name}/{EVALUATIONS_DIR}"
    return [run_name, evaluations, *(f"{evaluations}/{task}" for task in tasks)]


def plan_layout(experiment_set: ExperimentSet) -> SetLayout:
    """The folders and files of ``experiment_set``."""
    tasks = experiment_set.plan.task_names
    directories: list[str] = []
    files = [PlannedFile(path, kind) for path, kind in SET_FILES]
    for index, run in enumerate(experiment_set.all_runs):
        directories.extend(run_directories(run.name, tasks))
        files.append(PlannedFile(f"{run.name}/{RUN_FILE}", FileKind.RUN, index))
    return SetLayout(directories=tuple(directories), files=tuple(files))

"""The task files a set evaluates with, checked before any job is queued: parsed (``scaffold``), or
imported in a subprocess with a timeout (``check`` and ``submit``) — in the profile's job environment
when it sets up on this machine, else with this Python — from the task file's own folder, as inspect
imports them. A task that imported is remembered with the digest of its file and of the environment,
and not imported again until either changes.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expset.core.layout import TASKS_CHECKED
from expset.core.run_setup import RunSetup
from expset.errors import ExpsetError

TASK_IMPORT_TIMEOUT = 120.0
"""Seconds a task file's import may take (inspect-ai itself takes a few)."""


def parse_tasks(setups: dict[str, RunSetup]) -> _TaskCheck:
    """The task files' problems that their syntax shows, without importing them."""
    from expset.task_files import static_task_problem

    found = _TaskCheck(None, 0)
    for task in sorted({evaluation.task for setup in setups.values() for evaluation in setup.evaluations}):
        problem = static_task_problem(task)
        if problem is not None:
            file, _, name = task.rpartition("@")
            found.problems.append(f"task {name} in {file}: {problem}")
    return found


@dataclass
class _TaskCheck:
    """The task files' import, running in a subprocess while the other checks go on."""

    process: subprocess.Popen[str] | None
    timeout: float
    fallback: list[str] | None = None  # the import with this Python, when the job environment fails here
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    remember: Callable[[set[str]], None] | None = None  # hears of the tasks that imported
    lenient: bool = False  # imported with this Python as the job environment failed here: a missing module is a note

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
            self.lenient = True
            self.notes.append(
                f"the job environment does not set up here ({line}): task files imported with {sys.executable}"
            )
            retry, self.fallback = self.fallback, None
            self.process = _start(retry)
            if self.process is None:
                return []
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
        problems = []
        for (file, name), problem in sorted(answers.items()):
            if problem == "ok":
                continue
            if self.lenient and "ModuleNotFoundError" in problem:  # this Python is not the jobs'
                self.notes.append(f"task {name} in {file}: {problem}, with this Python: checked by its job only")
                continue
            problems.append(f"task {name} in {file}: {problem}")
        return problems


_TASK_PROBE = r"""
import importlib.util, os, sys
for number, item in enumerate(sys.argv[1:]):
    file, _, name = item.rpartition("@")
    folder = os.path.dirname(os.path.abspath(file))
    os.chdir(folder)  # as inspect imports a task file: from its folder, which is on the path
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(f"expset_task_probe_{number}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        registered = {
            getattr(info, "name", None)
            for value in vars(module).values()
            if (info := getattr(value, "__registry_info__", None)) is not None and getattr(info, "type", None) == "task"
        }
        found = callable(getattr(module, name, None)) or name in registered
        problem = "ok" if found else "the file defines no task of that name"
    except BaseException as error:
        problem = f"does not import: {type(error).__name__}: {error}".replace("\n", " ").replace("\t", " ")
    finally:
        sys.path.remove(folder)
    print(f"expset-task\t{file}\t{name}\t{problem}", flush=True)
"""


ENVIRONMENT_FAILED = 97
"""The exit status of the task probe when a line of the job environment failed here."""
_PIPES: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "stdin": subprocess.DEVNULL, "text": True}


def start_task_check(set_dir: Path, setups: dict[str, RunSetup], timeout: float) -> _TaskCheck:
    """Start importing every task file the runs evaluate with: in the job environment when the profile has
    one (with this Python instead if that environment fails on this machine), else with this Python.
    Tasks whose file and environment are as they were when an earlier check imported them are skipped."""

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
        return _started(_start(here), timeout, remember=remember)
    lines = [
        f"{line} || {{ echo {shlex.quote(line)}': failed' >&2; exit {ENVIRONMENT_FAILED}; }}" for line in environment
    ]
    probe = shlex.join(["python", "-c", _TASK_PROBE, *wanted])
    process = _start(["bash", "-c", "\n".join([*lines, probe])])
    return _started(process, timeout, fallback=here, remember=remember)


def _start(argv: list[str]) -> subprocess.Popen[str] | None:
    """The task probe, started; None when its program cannot be run here (no bash on PATH)."""
    try:
        return subprocess.Popen(argv, **_PIPES)
    except OSError:
        return None


def _started(process: subprocess.Popen[str] | None, timeout: float, **options: Any) -> _TaskCheck:
    check = _TaskCheck(process, timeout, **options)
    if process is None:
        check.notes.append("task files only parsed: no shell or Python to import them with could be started here")
    return check


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

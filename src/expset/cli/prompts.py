"""Questions asked in a terminal: the approval of a proposal and the ``new`` wizard.

Thin wrappers over questionary, imported only when a question is really asked. Every function
raises ``UsageError`` instead of hanging when there is no terminal to ask in.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from expset.core.overrides import unknown_key_problem
from expset.core.values import is_safe_name, value_identity
from expset.errors import DeclinedError, UsageError
from expset.render.yaml_read import load_scalar


class Choice(str, Enum):
    """The answers to the approval question."""

    APPROVE = "Approve: create the set"
    RENAME = "Rename the set"
    TEMPLATE = "Change the naming template"
    CANCEL = "Cancel: write nothing"


def require_terminal(what: str, hint: str) -> None:
    """Raise ``UsageError`` unless stdin and stdout are a terminal a person can answer in."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(f"no terminal to ask {what}; nothing was written", hint=hint)


def _answer(question: Any) -> Any:
    """The answer to ``question``; Ctrl-C or Ctrl-D at a prompt means cancel."""
    answer = question.unsafe_ask()
    if answer is None:
        raise DeclinedError("cancelled; nothing was written")
    return answer


def ask_approval() -> Choice:
    """Ask whether to create the set as proposed, rename it, change the template or cancel."""
    import questionary

    answer = _answer(questionary.select("Create this experiment set?", choices=[c.value for c in Choice]))
    return Choice(answer)


def ask_text(message: str, default: str = "", validate: Callable[[str], bool | str] | None = None) -> str:
    """Ask for one line of text, offering ``default``; ``validate`` refuses an answer with a reason."""
    import questionary

    return str(_answer(questionary.text(message, default=default, validate=validate or (lambda _: True)))).strip()


def ask_confirm(message: str, default: bool = True) -> bool:
    """Ask a yes/no question."""
    import questionary

    return bool(_answer(questionary.confirm(message, default=default)))


def ask_choice(message: str, choices: dict[str, str], default: str | None = None) -> str:
    """One of ``choices`` (title → value), by its value; the cursor starts on ``default``."""
    import questionary

    options = [questionary.Choice(title, value=value) for title, value in choices.items()]
    return str(_answer(questionary.select(message, choices=options, default=default)))


def _required(text: str) -> bool | str:
    return bool(text.strip()) or "an answer is needed"


def _parameter_key(taken: set[str]) -> Callable[[str], bool | str]:
    def check(text: str) -> bool | str:
        key = text.strip()
        if not key:
            return True
        problem = unknown_key_problem(key, set())
        if problem is not None:
            return f"{key} {problem}"
        return f"{key} is already in the plan" if key in taken else True

    return check


def _values(text: str) -> bool | str:
    values = split_values(text)
    if not values:
        return "give at least one value, separated by commas"
    if len({value_identity(v) for v in values}) != len(values):
        return "a value is listed twice"
    return True


def split_values(text: str) -> list[Any]:
    """``8, 16`` → [8, 16]; ``1e-4,2e-5`` → [0.0001, 2e-05]."""
    return [load_scalar(part.strip()) for part in text.split(",") if part.strip()]


OWN_FILE = "own file"  # the choice of a file of one's own, asked for next (bundled ones are absolute paths)
BUNDLED = "{} (bundled with expset)"


def ask_dataset(bundled: dict[str, str], data_folder: str | None) -> str:
    """The training data: a file of one's own (absolute when it is here; else a name under the data
    folder), or one of ``bundled`` (title → absolute path)."""
    choices = {"a file of my own…": OWN_FILE, **{BUNDLED.format(title): path for title, path in bundled.items()}}
    chosen = ask_choice("Training data (JSON or JSONL, with input and output fields):", choices)
    if chosen != OWN_FILE:
        return chosen
    where = f", or a name under the data folder {data_folder}" if data_folder else ""
    text = ask_text(f"Training data file (a path{where}):", validate=_data_file(data_folder))
    path = Path(text).expanduser()
    return str(path.absolute()) if path.is_file() else text


def ask_task(name: str, bundled: dict[str, str]) -> str:
    """The inspect task of evaluation ``name``, as ``/absolute/path.py@task``: a task file of one's own,
    or one of ``bundled`` (task name → ``path@task``), the one called ``name`` offered first."""
    choices = {"a task file of my own…": OWN_FILE, **{BUNDLED.format(task): path for task, path in bundled.items()}}
    chosen = ask_choice(f"Task for {name}:", choices, default=bundled.get(name, OWN_FILE))
    if chosen != OWN_FILE:
        return chosen
    text = ask_text(f"Task for {name}, as path/to/file.py@task_name:", validate=_task_file)
    file, _, task = text.rpartition("@")
    return f"{Path(file).expanduser().absolute()}@{task}"


def _data_file(data_folder: str | None) -> Callable[[str], bool | str]:
    def check(text: str) -> bool | str:
        if not text.strip():
            return "an answer is needed"
        path = Path(text.strip()).expanduser()
        if path.is_file():
            return True
        if data_folder:
            return True  # a name under the data folder; scaffold looks it up, .json or .jsonl implied
        return f"no file {path.absolute()} — give an existing JSON or JSONL file"

    return check


def _task_file(text: str) -> bool | str:
    file, separator, task = text.strip().rpartition("@")
    if not separator or not file or not task:
        return "write path/to/file.py@task_name"
    path = Path(file).expanduser()
    return True if path.is_file() else f"no file {path.absolute()}"


def _split_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _task_names(text: str) -> bool | str:
    names = _split_names(text)
    for name in names:
        if not is_safe_name(name):
            return f"{name!r} cannot be a folder name: use letters, digits, '.', '_' and '-'"
    return "a name is listed twice" if len(set(names)) != len(names) else True


def ask_plan_questions(
    default_author: str,
    *,
    tasks: dict[str, str] | None = None,
    datasets: dict[str, str] | None = None,
    data_folder: str | None = None,
) -> dict[str, Any]:
    """Ask for every plan field; return plan data in the plan file's own shape.

    ``tasks`` (name → ``path@task``) and ``datasets`` (title → path) are offered besides one's own files.
    """
    tasks, datasets = tasks or {}, datasets or {}
    data: dict[str, Any] = {}
    data["purpose"] = ask_text("Purpose: what question does this set of runs answer?", validate=_required)
    name = ask_text("Short name for the set folder (blank: derived from what varies):")
    if name:
        data["name"] = name
    vary: dict[str, list[Any]] = {}
    while True:
        key = ask_text(
            "Parameter to vary (e.g. model, lora_rank, lr, dataset; blank when done):",
            validate=_parameter_key(set(vary)),
        )
        if not key:
            break
        vary[key] = split_values(ask_text(f"Values of {key}, comma-separated:", validate=_values))
    data["vary"] = vary
    if not any(len(values) >= 2 for values in vary.values()):
        data["single_run_reason"] = ask_text("Nothing varies. Why does this set have one run?", validate=_required)
    fixed: dict[str, Any] = {}
    while True:
        item = ask_text("Fixed parameter as key=value (e.g. epochs=3; blank when done):")
        if not item:
            break
        key, _, value = item.partition("=")
        fixed[key.strip()] = load_scalar(value.strip())
    if "dataset" not in vary and "dataset" not in fixed:
        fixed["dataset"] = ask_dataset(datasets, data_folder)
    data["fixed"] = fixed
    names = ask_text(
        "Evaluation tasks, comma-separated (e.g. capitalization, arithmetic; blank: none):", validate=_task_names
    )
    evaluations = [{"name": name, "task": ask_task(name, tasks)} for name in _split_names(names)]
    if evaluations:
        data["evaluations"] = evaluations
    notes = ask_text("Notes for whoever opens the set later (optional):")
    if notes:
        data["notes"] = notes
    data["author"] = ask_text("Author:", default=default_author, validate=_required)
    return data


def ask_profile_questions(current: dict[str, Any]) -> dict[str, Any]:
    """Ask for each profile setting, offering the current value; blank answers leave a setting unset.
    A value SLURM could not read in an ``#SBATCH`` line is refused at once, with the reason."""
    from expset.core.site_settings import SITE_SETTINGS

    answers: dict[str, Any] = {}
    for setting in SITE_SETTINGS:
        if setting.switch:
            current_value = current.get(setting.field)
            answer = ask_confirm(
                f"{setting.question}?", default=setting.example if current_value is None else current_value
            )
            if answer != setting.example:
                answers[setting.field] = answer
            continue
        if setting.lines:
            lines = _ask_lines(setting.question, [str(line) for line in current.get(setting.field) or []])
            if lines:
                answers[setting.field] = lines
            continue
        answer = ask_text(
            f"{setting.question}:", default=str(current.get(setting.field, "")), validate=_sbatch_value(setting.pattern)
        )
        if answer:
            answers[setting.field] = answer
    return answers


def _sbatch_value(pattern: re.Pattern[str] | None) -> Callable[[str], bool | str]:
    def check(text: str) -> bool | str:
        if not text or pattern is None or pattern.fullmatch(text):
            return True
        return "SLURM cannot read this in an #SBATCH line: letters, digits and . _ - , + only"

    return check


def _ask_lines(question: str, current: list[str]) -> list[str]:
    """Shell lines, one answer each; the current ones can be kept as they are."""
    if current and ask_confirm(f"Keep these lines ({'; '.join(current)})?"):
        return current
    lines = []
    while True:
        line = ask_text(f"{question}, one line at a time (blank when done):")
        if not line:
            return lines
        lines.append(line)

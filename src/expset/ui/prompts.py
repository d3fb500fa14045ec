"""Questions asked in a terminal: the approval of a proposal and the ``new`` wizard.

Thin wrappers over questionary, imported only when a question is really asked. Every function
raises ``UsageError`` instead of hanging when there is no terminal to ask in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from typing import Any

from expset.core.plan import PARAMETER_KEY
from expset.core.values import value_identity
from expset.errors import DeclinedError, UsageError
from expset.io.yaml import load_scalar


class Choice(str, Enum):
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
    import questionary

    answer = _answer(questionary.select("Create this experiment set?", choices=[c.value for c in Choice]))
    return Choice(answer)


def ask_text(message: str, default: str = "", validate: Callable[[str], bool | str] | None = None) -> str:
    import questionary

    return str(_answer(questionary.text(message, default=default, validate=validate or (lambda _: True)))).strip()


def ask_confirm(message: str, default: bool = True) -> bool:
    import questionary

    return bool(_answer(questionary.confirm(message, default=default)))


def _required(text: str) -> bool | str:
    return bool(text.strip()) or "an answer is needed"


def _parameter_key(taken: set[str]) -> Callable[[str], bool | str]:
    def check(text: str) -> bool | str:
        key = text.strip()
        if not key:
            return True
        if not PARAMETER_KEY.fullmatch(key):
            return "use letters, digits and _ (e.g. lora_rank)"
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


def ask_plan_questions(default_author: str) -> dict[str, Any]:
    """Ask for every plan field; return plan data in the plan file's own shape."""
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
    if fixed:
        data["fixed"] = fixed
    tasks = ask_text("Evaluation tasks, comma-separated (e.g. capitalization, arithmetic):")
    if tasks:
        data["evaluations"] = [task.strip() for task in tasks.split(",") if task.strip()]
    notes = ask_text("Notes for whoever opens the set later (optional):")
    if notes:
        data["notes"] = notes
    data["author"] = ask_text("Author:", default=default_author, validate=_required)
    return data


PROFILE_QUESTIONS = (
    ("root", "Folder where experiment sets are created"),
    ("models_folder", "Folder holding model checkpoints (one sub-folder per model)"),
    ("data_folder", "Folder holding training data"),
    ("account", "SLURM account (blank: none)"),
    ("partition", "SLURM partition (blank: the cluster's default)"),
    ("qos", "SLURM QoS (blank: none)"),
    ("constraint", "SLURM constraint, e.g. a GPU type (blank: none)"),
    ("mail_user", "E-mail for job notices (blank: none)"),
    ("mail_type", "When to mail, e.g. FAIL or END,FAIL (blank: never)"),
    ("time", "Default time limit, e.g. 02:00:00 (blank: per model)"),
)


def ask_profile_questions(current: dict[str, Any]) -> dict[str, Any]:
    """Ask for each profile setting, offering the current value; blank answers leave a setting unset."""
    answers: dict[str, Any] = {}
    for key, question in PROFILE_QUESTIONS:
        answer = ask_text(f"{question}:", default=str(current.get(key, "")))
        if answer:
            answers[key] = answer
    lines = list(current.get("environment", []))
    if lines and ask_confirm(f"Keep the environment lines ({'; '.join(lines)})?"):
        answers["environment"] = lines
        return answers
    lines = []
    while True:
        line = ask_text("Shell line that sets up jobs (e.g. module load …, conda activate …; blank when done):")
        if not line:
            break
        lines.append(line)
    if lines:
        answers["environment"] = lines
    return answers

"""Why a job failed, in one line, and what fixes it. Pure: SLURM's word and the tail of the job's
output go in, a ``Failure`` comes out.

SLURM knows how a job was ended from outside (out of memory, time limit, node failure, preemption,
cancellation); the job's own output knows what went wrong inside it (CUDA out of memory, a file
missing, the last Python exception). SLURM is asked first; the output decides when SLURM only says
"FAILED", or has forgotten the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Cause(str, Enum):
    """The kinds of failure a researcher acts on differently."""

    OUT_OF_MEMORY = "out of GPU memory"
    HOST_MEMORY = "out of host memory"
    TIME_LIMIT = "time limit"
    NODE_FAILURE = "node failure"
    PREEMPTED = "preempted"
    CANCELLED = "cancelled"
    DEPENDENCY = "never ran: the job it waited for failed"
    NAN_LOSS = "NaN loss"
    MISSING_FILE = "missing file"
    ERROR = "error"


FIXES = {Cause.OUT_OF_MEMORY: "oom", Cause.HOST_MEMORY: "mem", Cause.TIME_LIMIT: "time"}
"""The causes ``submit --resubmit --fix`` can mend, by the word the option takes."""


@dataclass(frozen=True)
class Failure:
    """Why one job failed: its cause, the one line that shows it, and the ``--fix`` that mends it, if any."""

    cause: Cause
    detail: str

    @property
    def fix(self) -> str | None:
        return FIXES.get(self.cause)

    def describe(self) -> str:
        return f"{self.cause.value}: {self.detail}" if self.detail else self.cause.value


_SLURM_CAUSES = {
    "OUT_OF_MEMORY": Cause.HOST_MEMORY,  # SLURM's: the job's --mem, not the GPU's
    "TIMEOUT": Cause.TIME_LIMIT,
    "DEADLINE": Cause.TIME_LIMIT,
    "NODE_FAIL": Cause.NODE_FAILURE,
    "BOOT_FAIL": Cause.NODE_FAILURE,
    "PREEMPTED": Cause.PREEMPTED,
    "CANCELLED": Cause.CANCELLED,
    "REVOKED": Cause.CANCELLED,
}

# What SLURM's step daemon writes into a job's output when it ends the job from outside.
_CANCELLED_AT = r"\*\*\* JOB \d+ ON \S+ CANCELLED AT \S+"
_STEPD_MARKS = (
    (re.compile(_CANCELLED_AT + " DUE TO TIME LIMIT"), Cause.TIME_LIMIT, "killed at its time limit"),
    (re.compile(_CANCELLED_AT + " DUE TO PREEMPTION"), Cause.PREEMPTED, "preempted by SLURM"),
    (re.compile(_CANCELLED_AT + " DUE TO NODE FAILURE"), Cause.NODE_FAILURE, "its node failed"),
    (re.compile(r"Detected \d+ oom[-_]kill event"), Cause.HOST_MEMORY, "the job's --mem ran out"),
    (re.compile(r"StepId=\S+ exceeded memory limit"), Cause.HOST_MEMORY, "the job's --mem ran out"),
    (re.compile(_CANCELLED_AT + r"(?: \*\*\*|$)", re.MULTILINE), Cause.CANCELLED, "cancelled"),
)
_CUDA_OOM = re.compile(r"CUDA out of memory|OutOfMemoryError|CUDA error: out of memory")
_NAN_LOSS = re.compile(r"\bloss[:=]\s*nan\b", re.IGNORECASE)
_MISSING = re.compile(r"(?:FileNotFoundError|No such file or directory)[^\n]*?['\"]([^'\"\n]+)['\"]")
_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Interrupt))(?::\s*(.*))?$")


def slurm_cause(state_name: str | None) -> Cause | None:
    """The cause SLURM's state name (``TIMEOUT``, ``CANCELLED by 0``, ``PENDING (DependencyNeverSatisfied)``)
    gives, or None when it says only that the job failed."""
    if not state_name:
        return None
    if "DependencyNeverSatisfied" in state_name:
        return Cause.DEPENDENCY
    return _SLURM_CAUSES.get(state_name.split(" ")[0].rstrip("+").upper())


def diagnose(state_name: str | None, exit_code: int | None, output_tail: str) -> Failure:
    """Why a job failed, from SLURM's state name, the exit status it recorded and the end of its output.

    SLURM's word wins when it names a cause (it ended the job); its plain "FAILED", or its silence,
    leaves the decision to the output.
    """
    from_slurm = slurm_cause(state_name)
    if from_slurm is Cause.HOST_MEMORY:
        return Failure(from_slurm, "the job's --mem ran out")
    if from_slurm is Cause.TIME_LIMIT:
        return Failure(from_slurm, "killed at its time limit")
    if from_slurm is not None:
        return Failure(from_slurm, state_name or "")
    inside = _inside_cause([line.strip() for line in output_tail.splitlines() if line.strip()])
    if inside is not None:
        return inside
    said = f"exit status {exit_code}" if exit_code is not None else "no word from SLURM or the job"
    return Failure(Cause.ERROR, said)


def _inside_cause(lines: list[str]) -> Failure | None:
    """What the job's own output says ended it: SLURM's marks first, then the program's last words."""
    text = "\n".join(lines)
    for pattern, cause, detail in _STEPD_MARKS:
        if pattern.search(text):
            return Failure(cause, detail)
    if _CUDA_OOM.search(text):
        return Failure(Cause.OUT_OF_MEMORY, "CUDA out of memory (GPU memory at this batch size)")
    for line in reversed(lines):  # the last exception is what ended the job; a warning before it did not
        if _EXCEPTION.match(line):
            missing = _MISSING.findall(line)
            return Failure(Cause.MISSING_FILE, missing[-1]) if missing else Failure(Cause.ERROR, line[:200])
    if _NAN_LOSS.search(text):
        return Failure(Cause.NAN_LOSS, "the loss became NaN (try a lower learning rate)")
    return None

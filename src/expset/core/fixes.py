"""The changes ``submit --resubmit --fix`` makes to a failed run's ``setup_finetune.yaml``. Pure: text in,
text out.

``oom`` (out of GPU memory) halves the batch and doubles gradient accumulation, so each optimizer step
still sees the same number of samples and the run still answers the plan's question; ``mem`` doubles the
host memory the job asks for (``--mem``, which SLURM enforces); ``time`` doubles the time limit, up to the
longest the cluster allows. The file is edited line by line, so a researcher's comments and other
edits stay as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from expset.errors import SetupError

FIX_NAMES = ("oom", "mem", "time")


@dataclass(frozen=True)
class Change:
    """One value a fix changed in a run's setup."""

    key: str  # its place in the setup: training.batch_size
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.key} {self.before} → {self.after}"


def seconds(limit: str) -> int:
    """A SLURM time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) in seconds."""
    days, _, clock = limit.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    if days:
        hours, minutes, secs = [*parts, 0, 0][:3]
        return ((int(days) * 24 + hours) * 60 + minutes) * 60 + secs
    if len(parts) == 1:
        return parts[0] * 60
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return (parts[0] * 60 + parts[1]) * 60 + parts[2]


def time_limit(total: int) -> str:
    """Seconds as a SLURM time limit: ``HH:MM:SS``, or ``D-HH:MM:SS`` from a day on."""
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def halved_batch(run: str, batch_size: int, accumulation: int, varied: set[str]) -> list[Change]:
    """The batch halved and the accumulation doubled: the same samples per optimizer step, in less memory."""
    if "batch_size" in varied or "gradient_accumulation_steps" in varied:
        raise SetupError(
            f"run {run}: --fix oom would change batch_size, which this set varies (it is in the run's name)",
            hint="add a smaller batch size to the plan as a new value instead, or edit the run's setup by hand",
        )
    if batch_size <= 1:
        raise SetupError(
            f"run {run}: --fix oom cannot halve a batch of 1",
            hint="lower training.max_seq_len, ask for more GPUs (resources.gpus) or a larger GPU (slurm.constraint)",
        )
    if batch_size % 2:
        raise SetupError(
            f"run {run}: --fix oom cannot halve a batch of {batch_size} and keep the samples per optimizer step",
            hint="set training.batch_size and gradient_accumulation_steps in its setup_finetune.yaml by hand",
        )
    return [
        Change("training.batch_size", str(batch_size), str(batch_size // 2)),
        Change("training.gradient_accumulation_steps", str(accumulation), str(accumulation * 2)),
    ]


def longer_time(run: str, current: str, longest: str | None) -> list[Change]:
    """The time limit doubled, but never past ``longest`` (None: no known limit)."""
    wanted = 2 * seconds(current)
    if longest is not None:
        if seconds(current) >= seconds(longest):
            raise SetupError(
                f"run {run}: its time limit {current} is already the longest allowed ({longest}), so --fix time "
                "cannot raise it",
                hint="the run resumes from its last epoch when resubmitted as it is; or shorten it (epochs, "
                "max_steps_per_epoch)",
            )
        wanted = min(wanted, seconds(longest))
    return [Change("resources.time", current, time_limit(wanted))]


def more_memory(run: str, current: str) -> list[Change]:
    """The job's host memory (``--mem``) doubled: SLURM killed it for using more than it asked for."""
    match = re.fullmatch(r"(\d+)([KMGT]?)", current)
    if match is None:
        raise SetupError(f"run {run}: resources.mem {current!r} is not a SLURM memory size", hint="write it as 64G")
    return [Change("resources.mem", current, f"{int(match.group(1)) * 2}{match.group(2)}")]


def edit_setup(text: str, changes: list[Change]) -> str:
    """``text`` with each changed value rewritten in its line; ``SetupError`` when a line cannot be found
    (the file was restructured by hand), so that nothing is half-changed."""
    lines = text.splitlines(keepends=True)
    for change in changes:
        section, key = change.key.split(".")
        index = _value_line(lines, section, key)
        if index is None:
            raise SetupError(
                f"{change.key}: not found as a line of its own in setup_finetune.yaml, so it cannot be changed safely",
                hint=f"set {change.key} to {change.after} by hand and submit again with --resubmit",
            )
        indent, rest = re.match(r"(\s*)(.*)", lines[index]).groups()  # type: ignore[union-attr]
        comment = re.search(r"\s+#.*$", rest)
        ending = "\n" if lines[index].endswith("\n") else ""
        value = f'"{change.after}"' if section == "resources" else change.after
        lines[index] = f"{indent}{key}: {value}{comment.group(0) if comment else ''}{ending}"
    return "".join(lines)


def _value_line(lines: list[str], section: str, key: str) -> int | None:
    """The index of the ``  key: value`` line inside the top-level ``section:``, or None."""
    inside = False
    for index, line in enumerate(lines):
        if line and not line[0].isspace() and not line.startswith("#"):
            inside = line.rstrip().rstrip(":") == section and line.rstrip().endswith(":")
            continue
        if inside and re.match(rf"\s+{re.escape(key)}:\s*\S", line):
            return index
    return None

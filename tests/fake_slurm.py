"""A stand-in for SLURM's commands behind expset's ``Runner`` seam, for situations a test cluster cannot
produce on demand (a refusal half-way through a run, Ctrl-C between two ``sbatch`` calls). It
answers in SLURM's own formats (``sbatch --parsable``, ``squeue --format=%i|%T|%r|%k``) and keeps the
jobs it accepted, so a test can count them. The real cluster tests stay the proof."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from expset.slurm.runner import Completed

NO_ACCOUNTING_SACCTMGR = "sacctmgr: error: Problem talking to the database: Connection refused\n"


@dataclass
class FakeJob:
    job_id: str
    script: str
    comment: str
    state: str = "PENDING"


@dataclass
class FakeSlurm:
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    on_sbatch: Callable[[int, list[str]], Completed | None] | None = None  # nth sbatch → a different answer
    on_squeue: Callable[[list[str]], Completed] | None = None  # a different answer from squeue
    next_id: int = 100
    partitions: tuple[str, ...] = ("debug*", "gpu", "held")

    def run(self, argv: list[str], *, cwd: Path | None = None, timeout: float = 60) -> Completed:
        self.calls.append(argv)
        command = argv[0]
        if command == "sbatch":
            count = sum(1 for call in self.calls if call[0] == "sbatch")
            answer = self.on_sbatch(count, argv) if self.on_sbatch else None
            if answer is not None:
                return answer
            return Completed(tuple(argv), 0, f"{self.accept(argv)}\n", "")
        if command == "squeue":
            if self.on_squeue:
                return self.on_squeue(argv)
            lines = "".join(f"{j.job_id}|{j.state}|None|{j.comment}\n" for j in self.jobs.values())
            return Completed(tuple(argv), 0, lines, "")
        if command == "sacct":
            return Completed(tuple(argv), 1, "Slurm accounting storage is disabled\n", "")
        if command == "sinfo":
            return Completed(tuple(argv), 0, "".join(f"{name}\n" for name in self.partitions), "")
        if command == "sacctmgr":  # a cluster without an accounting database
            return Completed(tuple(argv), 1, "", NO_ACCOUNTING_SACCTMGR)
        if command == "scancel":
            for job_id in argv[1:]:
                for task in [job for job in self.jobs.values() if job.job_id.partition("_")[0] == job_id]:
                    task.state = "CANCELLED"
            return Completed(tuple(argv), 0, "", "")
        raise AssertionError(f"unexpected command {argv}")

    def accept(self, argv: list[str]) -> str:
        """Queue the job ``argv`` submits (an array: each of its tasks, ``<id>_<index>``); its id."""
        self.next_id += 1
        comment = next((a.removeprefix("--comment=") for a in argv if a.startswith("--comment=")), "")
        span = next((a.removeprefix("--array=") for a in argv if a.startswith("--array=")), None)
        if span is None:
            self.jobs[str(self.next_id)] = FakeJob(str(self.next_id), argv[-1], comment)
        else:
            last = int(span.split("%")[0].split("-")[1])
            for task in range(last + 1):
                self.jobs[f"{self.next_id}_{task}"] = FakeJob(f"{self.next_id}_{task}", argv[-1], comment)
        return str(self.next_id)

    def live_scripts(self) -> list[str]:
        return sorted(job.script for job in self.jobs.values() if job.state != "CANCELLED")


def refusal(argv: list[str]) -> Completed:
    return Completed(tuple(argv), 1, "", "sbatch: error: Batch job submission failed: Invalid account")

"""Running external programs: argv lists, no shell, captured text, always a timeout.

Everything that calls SLURM takes a ``Runner``, so the same code drives the real cluster or a
test double that answers with recorded output.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from expset.errors import ToolMissingError


@dataclass(frozen=True)
class Completed:
    """A finished command: its arguments, exit status and output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """The program's own last words, for an error line."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " ".join(text[-3:]) if text else f"exit status {self.returncode}"


class Runner(Protocol):
    """Runs a command and returns how it ended: the seam between expset and the programs it drives."""

    def run(self, argv: list[str], *, cwd: Path | None = None, timeout: float = 60) -> Completed:
        """Run ``argv``, waiting at most ``timeout`` seconds; ``ToolMissingError`` when it is not installed."""
        ...


class SubprocessRunner:
    """Runs real programs."""

    def run(self, argv: list[str], *, cwd: Path | None = None, timeout: float = 60) -> Completed:
        """Run ``argv``; a program that does not answer within ``timeout`` seconds ends with status 124."""
        program = shutil.which(argv[0])
        if program is None:
            raise ToolMissingError(
                f"{argv[0]} was not found: SLURM is not installed here or not on PATH",
                hint="run this on a SLURM login node, or load the SLURM module first",
            )
        try:
            done = subprocess.run(
                [program, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return Completed(tuple(argv), 124, "", f"{argv[0]} did not answer within {timeout:g} s")
        return Completed(tuple(argv), done.returncode, done.stdout, done.stderr)

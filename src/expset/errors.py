"""The one exception tree of expset, and the exit code each kind of failure maps to.

Only the standard library is imported here, so every layer (core, renderers, writer, CLI) can raise
these without pulling anything else in. Exceptions never print: the CLI's single handler does.
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "BusyError",
    "ConflictError",
    "DeclinedError",
    "ExitCode",
    "ExpsetError",
    "FileFormatError",
    "LinkError",
    "NamingError",
    "PlanError",
    "ProfileError",
    "RecordError",
    "RenderError",
    "SetNotFoundError",
    "SetupError",
    "SubmitError",
    "TargetExistsError",
    "Terminated",
    "ToolMissingError",
    "UsageError",
    "WriteError",
    "one_line",
]


class ExitCode:
    """Process exit codes, one per kind of outcome, stable for scripts."""

    OK = 0
    DECLINED = 1  # the user said no; nothing was written
    BAD_INPUT = 2  # plan, flags, names: the user can fix it
    TARGET_EXISTS = 3  # a different set already lives at the target path
    WRITE_FAILED = 4  # the file system refused (root missing, not writable, disk full)
    TOOL_MISSING = 5  # a program expset drives (sbatch, squeue) is not installed
    SUBMIT_FAILED = 6  # SLURM refused a job; what went through is recorded
    NOT_COMPLETE = 7  # status: some runs are not complete yet
    BUSY = 75  # another expset process holds the set, or its runs' jobs are active (EX_TEMPFAIL): try again later
    SOFTWARE = 70  # a bug in expset (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM, as a scheduler or `kill` sends it (128 + SIGTERM)


class ExpsetError(Exception):
    """Root of every error expset reports to a user.

    ``message`` is one line that names what is wrong; ``hint`` is one line that says how to fix it.
    """

    exit_code = ExitCode.SOFTWARE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class PlanError(ExpsetError):
    """Raised when a plan (file, flags or wizard answers) is invalid. ``problems`` holds one line each."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, problems: list[str], hint: str | None = None) -> None:
        problems = [one_line(problem) for problem in problems]
        super().__init__("; ".join(problems), hint)
        self.problems = problems


class NamingError(ExpsetError):
    """Raised when the naming convention cannot give every run a safe, unique name."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(one_line(message), hint)


_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` with every line break escaped (``\\n``): a plan's values and keys reach messages as written."""
    return text.translate(_LINE_BREAKS)


class UsageError(ExpsetError):
    """Raised for a bad command line or a question that cannot be asked (no terminal)."""

    exit_code = ExitCode.BAD_INPUT


class TargetExistsError(ExpsetError):
    """Raised when the set folder already exists with a different plan, or is not an expset set."""

    exit_code = ExitCode.TARGET_EXISTS


class WriteError(ExpsetError):
    """Raised when the file system refuses a write: missing or read-only root, full disk, etc."""

    exit_code = ExitCode.WRITE_FAILED


class SetNotFoundError(ExpsetError):
    """Raised when a folder given as an experiment set holds no ``expset.yaml``."""

    exit_code = ExitCode.BAD_INPUT


class DeclinedError(ExpsetError):
    """Raised when the user cancels at the approval prompt; nothing was written."""

    exit_code = ExitCode.DECLINED


class RecordError(ExpsetError):
    """Raised when a record expset keeps in a set (``expset.yaml``, ``.expset/…``) cannot be read or written."""

    exit_code = ExitCode.BAD_INPUT


class LinkError(ExpsetError):
    """Raised when expset would write through a symbolic link inside a set; nothing was written there."""

    exit_code = ExitCode.BAD_INPUT


class BusyError(ExpsetError):
    """Raised when another expset process holds the set, or runs to remove or clean have jobs pending or
    running: nothing was done, and the same command works once they are done."""

    exit_code = ExitCode.BUSY


class ProfileError(ExpsetError):
    """Raised when the user profile cannot be read or holds a setting that is not valid."""

    exit_code = ExitCode.BAD_INPUT


class FileFormatError(ExpsetError):
    """Raised when a file expset reads (a plan, a setup, a set record) is not valid YAML; names the line."""

    exit_code = ExitCode.BAD_INPUT


class SetupError(ExpsetError):
    """Raised when a run cannot be set up: names the run, the field and the fix."""

    exit_code = ExitCode.BAD_INPUT


class ConflictError(ExpsetError):
    """Raised when scaffold would overwrite files edited by hand; nothing was written."""

    exit_code = ExitCode.TARGET_EXISTS


class RenderError(ExpsetError):
    """Raised when a template cannot be rendered (a bug in a template or in its context)."""


class ToolMissingError(ExpsetError):
    """Raised when a program expset needs (sbatch, squeue…) is not installed or not on PATH."""

    exit_code = ExitCode.TOOL_MISSING


class SubmitError(ExpsetError):
    """Raised when sbatch refuses a job script; carries SLURM's own message."""

    exit_code = ExitCode.SUBMIT_FAILED


class ArchiveError(ExpsetError):
    """Raised when an archive is damaged, unsafe or not an expset archive: names the member; nothing was written."""

    exit_code = ExitCode.BAD_INPUT


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so a command unwinds as it does on Ctrl-C.

    Not a ``KeyboardInterrupt``: Click would turn that into "Aborted!" and exit code 1.
    """

"""SLURM: argv builders and parsers (pure), and a client that runs them through a ``Runner``.

Machine formats only: ``sbatch --parsable``, ``squeue --noheader --format`` with an explicit
separator, ``sacct --parsable2``. One ``squeue`` call covers every job of a set; ``sacct`` is asked
only about jobs ``squeue`` no longer lists. What SLURM cannot say is left out of the answer, never
guessed, and a command that fails is reported in SLURM's own words.

Every job expset submits carries an identity in its comment (``expset:<set key>:<token>:<step>:<run>``),
so a job the ledger lost is found again in ``squeue``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from expset.core.jobs import JobState, job_state
from expset.core.site_settings import TIME
from expset.errors import ExpsetError, SubmitError, ToolMissingError
from expset.slurm.runner import Runner

_JOB_ID = re.compile(r"^(\d+)(?:;\S+)?$")


COMMENT_PREFIX = "expset:"


def job_comment(set_key: str, token: str, step: str, run: str) -> str:
    """The identity a job carries in SLURM (``--comment``); run names never hold ``:``."""
    return f"{COMMENT_PREFIX}{set_key}:{token}:{step}:{run}"


@dataclass(frozen=True)
class JobIdentity:
    """What a job's SLURM comment says: which set, attempt, step and run it belongs to."""

    set_key: str
    token: str
    step: str
    run: str


def parse_job_comment(comment: str) -> JobIdentity | None:
    """The identity in an expset job's comment; None for any other job."""
    if not comment.startswith(COMMENT_PREFIX):
        return None
    parts = comment[len(COMMENT_PREFIX) :].split(":", 3)
    return JobIdentity(*parts) if len(parts) == 4 and all(parts) else None


def sbatch_argv(
    script: Path,
    after: str | None = None,
    *,
    comment: str | None = None,
    array: str | None = None,
    correspond: bool = False,
) -> list[str]:
    """Submit ``script``; with ``after`` (``id:id:…``), only once those jobs have succeeded, and never if one
    failed. With ``array`` (``0-999%50``) as a job array; with ``correspond``, each of its tasks waits for the
    task of the same index of the array ``after`` (``aftercorr``)."""
    argv = ["sbatch", "--parsable"]
    if array is not None:
        argv.append(f"--array={array}")
    if comment is not None:
        argv.append(f"--comment={comment}")
    if after is not None:
        kind = "aftercorr" if correspond else "afterok"
        argv += [f"--dependency={kind}:{after}", "--kill-on-invalid-dep=yes"]
    return [*argv, str(script)]


_JOB_LIMITS = re.compile(r"\w*(?:MaxSubmitJob|GrpSubmitJob)\w*")


def job_limit(message: str) -> str | None:
    """SLURM's name for the limit (``AssocMaxSubmitJobLimit``, ``QOSMaxSubmitJobPerUserLimit``…) when ``sbatch``
    refused a job because this user has as many queued as the cluster allows: a reason to wait, not a
    broken script; None for any other refusal."""
    found = _JOB_LIMITS.search(message)
    return found.group(0) if found else None


def parse_job_id(stdout: str) -> str | None:
    """The job id ``sbatch --parsable`` printed (``1234`` or ``1234;cluster``), or None."""
    lines = stdout.strip().splitlines()
    match = _JOB_ID.match(lines[-1].strip()) if lines else None
    return match.group(1) if match else None


def squeue_argv() -> list[str]:
    """All of this user's jobs SLURM still holds, finished ones included, each task of an array on its own
    line (``1234_5``), with why each waits or ended (``%r``) and their comments, in one call; the comment
    comes last, since only it may hold ``|``."""
    return ["squeue", "--me", "--noheader", "--states=all", "--array", "--format=%i|%T|%r|%k"]


def sacct_argv(job_ids: Iterable[str], *, fields: str = "JobID,State", completion_log: bool = False) -> list[str]:
    """``sacct`` asked for ``fields`` of ``job_ids``: the accounting database, or with ``completion_log``
    the job-completion file."""
    return [
        "sacct",
        *(["--completion"] if completion_log else []),
        "--noheader",
        "--parsable2",
        f"--format={fields}",
        f"--jobs={','.join(job_ids)}",
    ]


ELAPSED_FIELDS = "JobID,ElapsedRaw,AllocTRES"
"""What ``sacct`` says of how long each job ran, in seconds, and on how many GPUs."""
_GPUS = re.compile(r"gres/gpu=(\d+)")


def parse_elapsed(stdout: str) -> dict[str, tuple[int, int | None]]:
    """``id|seconds|tres`` lines → (seconds, GPUs or None when SLURM does not say) by job id; steps skipped."""
    found = {}
    for line in stdout.splitlines():
        job_id, _, rest = line.strip().partition("|")
        seconds, _, tres = rest.partition("|")
        if job_id and "." not in job_id and seconds.isdigit():
            gpus = _GPUS.search(tres)
            found[job_id] = (int(seconds), int(gpus.group(1)) if gpus else None)
    return found


def parse_states(stdout: str) -> dict[str, JobState]:
    """``id|STATE`` lines (sacct) → states; job steps (``12.batch``) are skipped."""
    return {job_id: job_state(name) for job_id, name in parse_state_names(stdout).items()}


def parse_state_names(stdout: str) -> dict[str, str]:
    """``id|STATE`` lines (sacct) → SLURM's own state names (``TIMEOUT``, ``CANCELLED by 0``); steps skipped."""
    names = {}
    for line in stdout.splitlines():
        job_id, _, rest = line.strip().partition("|")
        name = rest.partition("|")[0].strip()
        if job_id and name and "." not in job_id:
            names[job_id] = name
    return names


@dataclass(frozen=True)
class QueuedJob:
    """One line of ``squeue``: the job's state, SLURM's name for it, why it waits or ended, and its comment."""

    state: JobState
    name: str  # TIMEOUT, OUT_OF_MEMORY, PENDING…
    reason: str  # DependencyNeverSatisfied, Resources, TimeLimit… ("None" when SLURM has none)
    comment: str


def parse_queue(stdout: str) -> dict[str, QueuedJob]:
    """``id|STATE|reason|comment`` lines → each job by id; job steps (``12.batch``) are skipped."""
    jobs = {}
    for line in stdout.splitlines():
        job_id, _, rest = line.strip().partition("|")
        name, _, rest = rest.partition("|")
        reason, _, comment = rest.partition("|")
        if job_id and name and "." not in job_id:
            jobs[job_id] = QueuedJob(job_state(name), name, reason, comment)
    return jobs


@dataclass
class SlurmView:
    """What SLURM says about a set's jobs, in one ``squeue`` (and ``sacct`` for jobs it no longer lists)."""

    states: dict[str, JobState] = field(default_factory=dict)  # only jobs SLURM still knows
    names: dict[str, str] = field(default_factory=dict)  # SLURM's own state name, with why it waits or ended
    identities: dict[str, JobIdentity] = field(default_factory=dict)  # this user's jobs with an expset comment
    answered: bool = True  # squeue answered: a job it does not know, SLURM has forgotten
    problems: list[str] = field(default_factory=list)  # one line each, in SLURM's words
    failure: ExpsetError | None = None  # why squeue did not answer

    def require_answer(self) -> None:
        """Raise unless SLURM answered: nothing may be submitted while the set's jobs cannot be checked."""
        if self.failure is not None:
            raise self.failure


class SlurmClient:
    """The SLURM commands expset uses, run through ``runner``."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def submit(
        self,
        script: Path,
        *,
        after: str | None = None,
        comment: str | None = None,
        array: str | None = None,
        correspond: bool = False,
    ) -> str:
        """Submit ``script`` (see ``sbatch_argv``); its job id (an array's: its base id), or ``SubmitError`` in
        SLURM's words."""
        argv = sbatch_argv(script, after, comment=comment, array=array, correspond=correspond)
        done = self.runner.run(argv, cwd=script.parent, timeout=120)
        job_id = parse_job_id(done.stdout) if done.returncode == 0 else None
        if job_id is None:
            raise SubmitError(f"sbatch refused {script}: {done.message}", hint="fix the script or the profile")
        return job_id

    def cancel(self, job_ids: list[str]) -> bool:
        """Cancel ``job_ids``; whether SLURM said it did."""
        try:
            return self.run_cancel(job_ids) is None
        except ToolMissingError:
            return False

    def run_cancel(self, job_ids: list[str]) -> str | None:
        """Cancel ``job_ids``; None when SLURM did, else its words."""
        for chunk in _chunks(job_ids, 500):
            done = self.runner.run(["scancel", *chunk], timeout=60)
            if done.returncode != 0:
                return done.message
        return None

    def view(self, job_ids: Iterable[str]) -> SlurmView:
        """The states of ``job_ids`` SLURM still knows, and every queued job that carries an expset identity."""
        wanted = set(job_ids)
        view = SlurmView()
        try:
            done = self.runner.run(squeue_argv(), timeout=60)
        except ToolMissingError as error:
            view.answered, view.failure = False, error
            view.problems.append(error.message)
            return view
        if done.returncode != 0:
            view.answered = False
            view.problems.append(f"squeue failed: {done.message} — states below come from what the jobs left on disk")
            view.failure = SubmitError(
                f"squeue failed: {done.message}; the set's jobs cannot be checked, so nothing was submitted",
                hint="try again when SLURM answers (check SLURM_CONF and the controller)",
            )
            return view
        for job_id, queued in parse_queue(done.stdout).items():
            identity = parse_job_comment(queued.comment)
            if identity is not None:
                view.identities[job_id] = identity
            if job_id in wanted or identity is not None:
                view.states[job_id] = queued.state
                has_reason = queued.reason not in ("", "None", "(null)")
                view.names[job_id] = f"{queued.name} ({queued.reason})" if has_reason else queued.name
        missing = sorted(wanted - set(view.states))
        if missing:
            self._ask_accounting(missing, view)
        return view

    def partition_time_limit(self, partition: str | None) -> str | None:
        """The longest time limit ``partition`` (None: the default one) allows, as SLURM writes it; None when
        it has none or SLURM cannot say."""
        argv = ["sinfo", "--noheader", "--format=%P|%l", *([f"--partition={partition}"] if partition else [])]
        try:
            done = self.runner.run(argv, timeout=30)
        except ToolMissingError:
            return None
        for line in done.stdout.splitlines() if done.returncode == 0 else []:
            name, _, limit = line.strip().partition("|")
            if (partition is None and name.endswith("*")) or name.rstrip("*") == partition:
                return limit if TIME.fullmatch(limit) else None
        return None

    def partitions(self) -> set[str] | None:
        """The partitions this cluster has; None when ``sinfo`` cannot say."""
        try:
            done = self.runner.run(["sinfo", "--noheader", "--format=%P"], timeout=30)
        except ToolMissingError:
            return None
        if done.returncode != 0:
            return None
        return {line.strip().rstrip("*") for line in done.stdout.splitlines() if line.strip()}

    def associations(self, user: str) -> list[tuple[str, set[str]]] | None:
        """``user``'s accounts, each with the QoS it allows; None when the cluster keeps no accounting database."""
        argv = [
            "sacctmgr",
            "--noheader",
            "--parsable2",
            "show",
            "associations",
            f"where user={user}",
            "format=Account,QOS",
        ]
        try:
            done = self.runner.run(argv, timeout=30)
        except ToolMissingError:
            return None
        if done.returncode != 0:
            return None
        found = []
        for line in done.stdout.splitlines():
            account, _, qos = line.strip().partition("|")
            if account:
                found.append((account, {name for name in qos.split(",") if name}))
        return found

    def elapsed(self, job_ids: list[str]) -> dict[str, tuple[int, int | None]]:
        """How long each job ran (seconds) and on how many GPUs, where SLURM's accounting still knows it:
        the accounting database, then the job-completion file; empty where SLURM keeps neither."""
        found: dict[str, tuple[int, int | None]] = {}
        for completion_log in (False, True):
            for chunk in _chunks([job_id for job_id in job_ids if job_id not in found], 500):
                try:
                    argv = sacct_argv(chunk, fields=ELAPSED_FIELDS, completion_log=completion_log)
                    done = self.runner.run(argv, timeout=60)
                except ToolMissingError:
                    return found
                if done.returncode != 0:
                    break
                found.update(parse_elapsed(done.stdout))
        return found

    def _ask_accounting(self, missing: list[str], view: SlurmView) -> None:
        """How jobs ``squeue`` no longer lists ended: the accounting database, then the job-completion file."""
        refusals = []
        for completion_log in (False, True):
            done = None
            for chunk in _chunks([job_id for job_id in missing if job_id not in view.states], 500):
                try:
                    done = self.runner.run(sacct_argv(chunk, completion_log=completion_log), timeout=60)
                except ToolMissingError as error:
                    refusals.append(error.message)
                    done = None
                    break
                if done.returncode != 0:
                    refusals.append(done.message)
                    break
                names = parse_state_names(done.stdout)
                view.names.update(names)
                view.states.update({job_id: job_state(name) for job_id, name in names.items()})
            if done is not None and done.returncode == 0:
                return
        if refusals and any(job_id not in view.states for job_id in missing):
            view.problems.append(
                f"sacct cannot say how finished jobs ended ({refusals[-1]}): judged by what they left on disk"
            )


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]

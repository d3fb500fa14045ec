"""Why a job failed, from SLURM's state and the tail of the job's output (lines as SLURM, torch and
torchtune print them)."""

import pytest

from expset.core.failures import Cause, diagnose

CUDA_OOM = """\
  File "/opt/venv/lib/python3.11/site-packages/torch/nn/functional.py", line 2910, in cross_entropy
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB \
of which 1.21 GiB is free. Including non-PyTorch memory, this process has 77.93 GiB memory in use.
expset: the fine-tune exited with status 1
"""
TIME_LIMIT = (
    "1|Loss: 2.31: 40%|####      | 4/10\n"
    "slurmstepd: error: *** JOB 4242 ON gpu017 CANCELLED AT 2026-11-30T01:02:03 DUE TO TIME LIMIT ***\n"
)
HOST_OOM = (
    "slurmstepd: error: Detected 1 oom_kill event in StepId=4243.batch. Some of the step tasks have been OOM Killed.\n"
)
MEMORY_LIMIT = (  # recorded from slurm-wlm 22.05 with JobAcctGatherParams=OverMemoryKill; sacct says only FAILED
    "slurmstepd-localhost: error: StepId=1.batch exceeded memory limit (644788224 > 104857600), being killed\n"
)
CANCELLED = "slurmstepd: error: *** JOB 4244 ON gpu017 CANCELLED AT 2026-11-30T01:02:03 ***\n"
MISSING_TOKENIZER = """\
    with open(path, "rb") as f:
FileNotFoundError: [Errno 2] No such file or directory: '/scratch/models/Llama-3.2-1B-Instruct/original/tokenizer.model'
"""
NAN = "1|7|Loss: nan: 70%|#######   | 7/10\n"
WARNING_THEN_ERROR = (
    "UserWarning: No such file or directory: '/models/x/generation_config.json'\n"
    "Traceback (most recent call last):\nKeyError: 'input'\n"
)
KEY_ERROR = "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'output'\n"


@pytest.mark.parametrize(
    ("slurm", "exit_code", "output", "cause", "fix"),
    [
        ("TIMEOUT", None, "", Cause.TIME_LIMIT, "time"),
        ("OUT_OF_MEMORY", None, "", Cause.HOST_MEMORY, "mem"),  # SLURM's out of memory is the job's --mem
        ("NODE_FAIL", None, "", Cause.NODE_FAILURE, None),
        ("PREEMPTED", None, "", Cause.PREEMPTED, None),
        ("CANCELLED by 1000", None, "", Cause.CANCELLED, None),
        ("PENDING (DependencyNeverSatisfied)", None, "", Cause.DEPENDENCY, None),
        ("FAILED", 1, CUDA_OOM, Cause.OUT_OF_MEMORY, "oom"),  # SLURM says only "failed": the output knows
        (None, None, TIME_LIMIT, Cause.TIME_LIMIT, "time"),  # SLURM forgot the job: its output still says
        (None, None, HOST_OOM, Cause.HOST_MEMORY, "mem"),
        ("FAILED", None, MEMORY_LIMIT, Cause.HOST_MEMORY, "mem"),
        (None, None, CANCELLED, Cause.CANCELLED, None),
        ("FAILED", 1, MISSING_TOKENIZER, Cause.MISSING_FILE, None),
        ("FAILED", 1, NAN + KEY_ERROR, Cause.ERROR, None),
        ("FAILED", 1, NAN, Cause.NAN_LOSS, None),
        ("FAILED", 3, "no words of its own\n", Cause.ERROR, None),
        ("FAILED", 1, WARNING_THEN_ERROR, Cause.ERROR, None),  # the exception that ended it, not a warning
    ],
)
def test_a_failure_is_named_by_slurm_first_then_by_the_jobs_own_output(slurm, exit_code, output, cause, fix):
    failure = diagnose(slurm, exit_code, output)
    assert (failure.cause, failure.fix) == (cause, fix)


def test_a_missing_file_is_named_whole():
    assert diagnose("FAILED", 1, MISSING_TOKENIZER).detail.endswith("Llama-3.2-1B-Instruct/original/tokenizer.model")


def test_the_last_exception_is_the_reason_when_nothing_better_is_known():
    assert diagnose("FAILED", 1, KEY_ERROR).describe() == "error: KeyError: 'output'"


def test_with_no_word_from_anyone_the_exit_status_is_the_reason():
    assert diagnose(None, 3, "").describe() == "error: exit status 3"

"""The job ledger: intents before submissions, damage named by line, appends that never glue onto a torn line."""

import pytest

from expset import ledger
from expset.errors import RecordError


def job(run: str = "a", step: str = "finetune") -> ledger.Job:
    return ledger.Job(run=run, step=step, token=ledger.new_token(), time="2026-01-01T00:00:00+00:00", script="s")


def test_the_newest_submitted_job_of_a_step_is_its_current_job(tmp_path):
    first, other, second = job(), job("b"), job()
    ledger.append(tmp_path, [ledger.intent(first), ledger.intent(other)])
    ledger.append(tmp_path, [ledger.submitted(first, "1", None), ledger.submitted(other, "2", None)])
    ledger.append(tmp_path, [ledger.intent(second), ledger.submitted(second, "3", None)])
    current = ledger.read(tmp_path).current()
    assert {key: value.job_id for key, value in current.items()} == {("a", "finetune"): "3", ("b", "finetune"): "2"}


def test_an_intent_without_its_submission_is_unresolved_until_placed(tmp_path):
    pending = job()
    ledger.append(tmp_path, [ledger.intent(pending)])
    book = ledger.read(tmp_path)
    assert book.unresolved() == [pending] and book.current() == {}
    ledger.append(tmp_path, [ledger.adopted(ledger.Job("a", "finetune", pending.token, job_id="9"), "squeue")])
    assert ledger.read(tmp_path).current()[("a", "finetune")].job_id == "9"


def test_an_abandoned_intent_is_no_job(tmp_path):
    refused = job()
    ledger.append(tmp_path, [ledger.intent(refused), ledger.abandoned(refused.token, "sbatch refused it")])
    assert ledger.read(tmp_path).jobs == []


def test_an_append_after_a_torn_line_starts_on_a_fresh_line(tmp_path):
    first = job()
    ledger.append(tmp_path, [ledger.intent(first)])
    with (tmp_path / ledger.LEDGER).open("a") as handle:
        handle.write('{"event": "submitted", "tok')
    ledger.append(tmp_path, [ledger.submitted(first, "5", None)])
    book = ledger.read(tmp_path)
    assert book.current()[("a", "finetune")].job_id == "5"
    assert book.damaged == [f"{tmp_path / ledger.LEDGER} line 2: not a JSON record (torn by a crash, or edited)"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"\xff\xfe not text", "not UTF-8 text"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"event": "intent", "token": "t", "run": ["a"], "step": "finetune"}', "run is not text"),
        (b'{"event": "submitted", "token": "t", "job_id": 12}', "job_id 12 is not a SLURM job id"),
        (b'{"event": "intent", "token": "t", "run": "a", "step": "evaluate/x"}', "step 'evaluate/x' is not a step"),
        (b'{"event": "submitted", "token": "nobody", "job_id": "3"}', "submitted of a job whose intent is missing"),
    ],
)
def test_a_damaged_line_is_named_with_its_number(tmp_path, line, why):
    (tmp_path / ".expset").mkdir()
    (tmp_path / ledger.LEDGER).write_bytes(line + b"\n")
    [damage] = ledger.read(tmp_path).damaged
    assert damage.startswith(f"{tmp_path / ledger.LEDGER} line 1: {why}")


def test_the_first_ledger_format_is_still_read(tmp_path):
    (tmp_path / ".expset").mkdir()
    (tmp_path / ledger.LEDGER).write_text(
        '{"after": null, "job_id": "41", "run": "a", "script": "a/finetune.slurm", "script_sha256": "0", '
        '"step": "finetune", "time": "2026-01-01T00:00:00+00:00"}\n'
    )
    assert ledger.read(tmp_path).current()[("a", "finetune")].job_id == "41"


def test_a_ledger_that_is_a_folder_is_named(tmp_path):
    (tmp_path / ledger.LEDGER).mkdir(parents=True)
    with pytest.raises(RecordError, match=r"jobs\.jsonl is a folder, not the job ledger"):
        ledger.read(tmp_path)
    with pytest.raises(RecordError, match="cannot write the job ledger"):
        ledger.append(tmp_path, [ledger.intent(job())])

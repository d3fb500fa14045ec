"""``expset check``: what would kill a job seconds after it starts is found before it is queued, one line
each, exit 2; ``submit`` refuses while there is any, ``scaffold`` says so."""

from __future__ import annotations

import json

import pytest

from expset.slurm.runner import Completed

from site_helpers import expset


@pytest.fixture
def set_dir(site, slurm):
    created = site.create()
    assert expset("scaffold", str(created)).exit_code == 0
    return created


def problems(result) -> list[str]:
    """The problems check found, but that a data or task file changed since scaffold: these tests change one on
    purpose to show another problem (the comparison with the record is tested in scaffold/test_inputs.py)."""
    changed = "differs from the file the set was scaffolded with"
    return [line for line in result.stdout.splitlines() if line.startswith("problem: ") and changed not in line]


def test_a_set_with_everything_in_place_passes_and_says_what_it_asks_for(set_dir, site):
    result = expset("check", str(set_dir))
    assert result.exit_code == 0, result.stdout
    assert f"data {site.data / 'words.json'}: 1 records" in result.stdout
    assert "4 run(s) ask for 24.0 GPU-hours at most; checkpoints: adapters only" in result.stdout
    assert problems(result) == []


def test_a_missing_tokenizer_file_is_named_with_its_model_folder(set_dir, site):
    (site.models / "Llama-3.2-3B-Instruct" / "original" / "tokenizer.model").unlink()
    result = expset("check", str(set_dir))
    assert result.exit_code == 2
    folder = site.models / "Llama-3.2-3B-Instruct"
    assert problems(result) == [
        f"problem: model Llama-3.2-3B-Instruct: {folder} lacks original/tokenizer.model (its config loads them)"
    ]


def test_a_missing_model_folder_is_a_problem(site, slurm):
    import shutil

    set_dir = site.create()
    shutil.rmtree(site.models / "Llama-3.2-1B-Instruct")
    scaffolded = expset("scaffold", str(set_dir))
    assert scaffolded.exit_code == 0  # scaffold writes, and says what submit will refuse
    assert "no folder" in scaffolded.stderr and "`expset submit` refuses until they are fixed" in scaffolded.stderr
    assert "no folder" in problems(expset("check", str(set_dir)))[0]


def test_a_data_field_the_format_needs_but_the_file_lacks_is_named(set_dir, site):
    (site.data / "words.json").write_text(json.dumps([{"prompt": "hi", "output": "HI"}]))
    [problem] = problems(expset("check", str(set_dir)))
    assert problem == (
        f"problem: data {site.data / 'words.json'}: record 1 has no 'input' field (it has 'prompt', 'output'); "
        "instruct data needs 'input', 'output'"
    )


def test_a_data_file_that_does_not_parse_is_named(set_dir, site):
    (site.data / "words.json").write_text('[{"input": "hi", "output": "HI"},')
    [problem] = problems(expset("check", str(set_dir)))
    assert problem.startswith(f"problem: data {site.data / 'words.json'}: not JSON (")


def test_a_task_file_with_a_syntax_error_is_caught_by_importing_it(set_dir, site):
    line = len(site.tasks.read_text().splitlines()) + 2
    site.tasks.write_text(site.tasks.read_text() + "\ndef broken(:\n")
    result = expset("check", str(set_dir))
    assert result.exit_code == 2
    assert {problem.split(": ", 2)[1] for problem in problems(result)} == {
        f"task arithmetic in {site.tasks}",
        f"task capitalization in {site.tasks}",
    }
    assert problems(result)[0].endswith(f"does not import: SyntaxError: invalid syntax (tasks.py, line {line})")


def test_a_task_the_file_does_not_define_is_named(set_dir, site):
    site.tasks.write_text(site.tasks.read_text().replace("def arithmetic", "def sums"))
    assert problems(expset("check", str(set_dir))) == [
        f"problem: task arithmetic in {site.tasks}: the file defines no task of that name"
    ]


def test_a_task_that_imported_is_not_imported_again_until_its_file_changes(set_dir, site):
    assert expset("check", str(set_dir)).exit_code == 0
    checked = json.loads((set_dir / ".expset" / "tasks_checked.json").read_text())
    assert set(checked) == {f"{site.tasks}@capitalization", f"{site.tasks}@arithmetic"}
    site.tasks.write_text(site.tasks.read_text() + "\nraise RuntimeError('no GPU here')\n")
    assert "RuntimeError: no GPU here" in problems(expset("check", str(set_dir)))[0]


def test_a_job_environment_that_fails_here_is_noted_and_this_python_imports_the_tasks(set_dir):
    result = expset("check", str(set_dir))  # the site's environment: module load cuda, which this machine lacks
    assert "the job environment does not set up here (module load cuda: failed)" in " ".join(result.stderr.split())
    assert result.exit_code == 0


def test_a_partition_slurm_does_not_have_is_a_problem(set_dir, slurm):
    slurm.partitions = ("debug*", "a100")
    assert problems(expset("check", str(set_dir))) == [
        "problem: slurm.partition 'gpu': no such partition here (sinfo lists a100, debug)"
    ]


def test_an_account_without_an_association_is_a_problem_where_accounting_says(set_dir, slurm):
    original = slurm.run

    def with_accounting(argv, **options):
        if argv[0] == "sacctmgr":
            return Completed(tuple(argv), 0, "physics|normal,long\n", "")
        return original(argv, **options)

    slurm.run = with_accounting  # type: ignore[method-assign]
    assert problems(expset("check", str(set_dir))) == [
        "problem: slurm.account 'lab': you have no association with it (yours: physics)"
    ]


def test_without_accounting_the_account_is_not_checked_and_a_note_says_so(set_dir):
    result = expset("check", str(set_dir))
    assert "account and QoS not checked" in result.stderr and result.exit_code == 0


def test_submit_refuses_while_check_finds_a_problem_and_queues_nothing(set_dir, site, slurm):
    (site.models / "Llama-3.2-1B-Instruct" / "model.safetensors").unlink()
    refused = expset("submit", str(set_dir))
    assert refused.exit_code == 2 and "lacks model.safetensors" in refused.stderr
    assert "nothing was submitted" in refused.stderr and slurm.jobs == {}
    assert expset("submit", str(set_dir), "--no-check").exit_code == 0
    assert len(slurm.jobs) == 16


def test_check_of_some_runs_checks_only_theirs(set_dir, site):
    (site.models / "Llama-3.2-3B-Instruct" / "model.safetensors").unlink(missing_ok=True)
    for name in (site.models / "Llama-3.2-3B-Instruct").iterdir():
        if name.is_file():
            name.unlink()
    assert expset("check", str(set_dir), "--runs", "1B_rank8").exit_code == 0
    assert expset("check", str(set_dir), "--runs", "3B_rank8").exit_code == 2


def test_a_task_file_importing_a_module_beside_it_imports_as_inspect_would(set_dir, site):
    (site.root / "prompts.py").write_text("PREFIX = 'Capitalize: '\n")
    site.tasks.write_text("import prompts  # beside the task file\n" + site.tasks.read_text())
    assert problems(expset("check", str(set_dir))) == []


def test_a_task_registered_under_a_name_of_its_own_is_found(site, slurm):
    site.tasks.write_text(site.tasks.read_text().replace("@task\ndef arithmetic", '@task(name="arithmetic")\ndef sums'))
    set_dir = site.create()
    scaffolded = expset("scaffold", str(set_dir))
    assert "problem" not in scaffolded.stderr  # the file's syntax says so
    assert problems(expset("check", str(set_dir))) == []  # and so does inspect's registry


def test_json_lines_in_a_json_file_are_read_as_datasets_reads_them(set_dir, site):
    (site.data / "words.json").write_text('{"input": "hi", "output": "HI"}\n{"input": "yo", "output": "YO"}\n')
    result = expset("check", str(set_dir))
    assert problems(result) == [] and f"data {site.data / 'words.json'}: 2 records" in result.stdout


def test_each_partition_of_a_list_is_looked_for(site, slurm):
    slurm.partitions = ("debug*", "gpu")
    set_dir = site.create(site={"partition": "gpu,gpu-long"})
    expset("scaffold", str(set_dir))
    assert problems(expset("check", str(set_dir))) == [
        "problem: slurm.partition 'gpu-long': no such partition here (sinfo lists debug, gpu)"
    ]


def test_a_model_folder_is_checked_whether_a_control_run_of_it_comes_first_or_not(site, slurm):
    set_dir = site.create(controls=True)
    expset("scaffold", str(set_dir))
    (site.models / "Llama-3.2-1B-Instruct" / "original" / "tokenizer.model").unlink()
    for runs in ("base_1B,1B_rank8", "1B_rank8,base_1B"):
        assert any(
            "lacks original/tokenizer.model" in line for line in problems(expset("check", str(set_dir), "--runs", runs))
        )


def test_an_empty_checkpoint_file_is_a_copy_that_did_not_finish(set_dir, site):
    (site.models / "Llama-3.2-1B-Instruct" / "model.safetensors").write_bytes(b"")
    assert problems(expset("check", str(set_dir))) == [
        f"problem: model Llama-3.2-1B-Instruct: model.safetensors in {site.models / 'Llama-3.2-1B-Instruct'} is "
        "empty (a copy that did not finish?)"
    ]

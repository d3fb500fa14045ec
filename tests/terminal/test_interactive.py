"""The questions, answered in a real terminal (tmux): approval, cancel, rename, template, the wizard."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import expset
from expset.render.yaml_read import load_yaml

from helpers import write_plan

pytestmark = pytest.mark.terminal

PLAN = """\
name: interactive
purpose: Try the questions.
date: 2025-10-18
author: Ada
vary:
  model: [Llama-3.2-1B-Instruct, Llama-3.2-3B-Instruct]
  lora_rank: [8, 16]
evaluations: [arithmetic]
"""


class Terminal:
    """A command running in its own tmux server, typed at and read like a person would."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.socket = f"expset-test-{uuid.uuid4().hex[:8]}"
        self.answered: dict[str, int] = {}
        environment = " ".join(
            f"{name}={shlex.quote(value)}"
            for name, value in os.environ.items()
            if name
            in ("HOME", "XDG_CONFIG_HOME", "USER", "PATH", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "EXPSET_PROFILE")
        )
        script = f"cd {shlex.quote(str(cwd))} && env {environment} TERM=xterm-256color {shlex.join(command)}; "
        script += 'echo "EXIT=$?"; sleep 600'
        self._tmux("new-session", "-d", "-x", "160", "-y", "50", "bash", "-c", script)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-S", "-500")

    def wait_for(self, text: str, timeout: float = 30, times: int = 1) -> str:
        """The screen once ``text`` shows on it (``times`` times over, for a question asked again)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= times:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def type(self, *keys: str) -> None:
        for key in keys:
            self._tmux("send-keys", key)
            time.sleep(0.05)

    def answer(self, prompt: str, text: str) -> None:
        """Wait for the next asking of ``prompt`` (prompts repeat, e.g. one per parameter), then answer."""
        self.answered[prompt] = self.answered.get(prompt, 0) + 1
        self.wait_for(prompt, times=self.answered[prompt])
        if text:
            self._tmux("send-keys", "-l", text)
        self.type("Enter")

    def exit_code(self) -> int:
        screen = self.wait_for("EXIT=")
        return int(screen.rsplit("EXIT=", 1)[1].split()[0])

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal():
    opened: list[Terminal] = []

    def open_terminal(*args: str, cwd: Path) -> Terminal:
        opened.append(Terminal([sys.executable, "-m", "expset", *args], cwd))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


QUESTION = "Create this experiment set?"
APPROVE, RENAME, TEMPLATE, CANCEL = [], ["Down"], ["Down", "Down"], ["Down", "Down", "Down"]


@pytest.fixture
def create(terminal, isolated_environment):
    """``expset create`` on a plan in a terminal, stopped at the approval question."""

    def start() -> Terminal:
        plan = write_plan(isolated_environment / "plan.yaml", PLAN)
        term = terminal("create", str(plan), cwd=isolated_environment)
        term.wait_for(QUESTION)
        return term

    return start


def choose(term: Terminal, choice: list[str], replacement: str | None = None, prompt: str = "") -> None:
    """Pick an answer to the approval question, then type a replacement for the offered default."""
    term.type(*choice, "Enter")
    if replacement is not None:
        term.wait_for(prompt)
        term.type("C-u")
        term.answer(prompt, replacement)


def test_approving_creates_the_set(create, isolated_environment):
    term = create()
    choose(term, APPROVE)
    assert term.exit_code() == 0
    assert (isolated_environment / "interactive_2025-10-18" / "3B_rank16" / "evaluations" / "arithmetic").is_dir()


def test_cancelling_writes_nothing(create, isolated_environment):
    term = create()
    choose(term, CANCEL)
    assert term.exit_code() == 1
    assert "cancelled; nothing was written" in term.screen()
    assert sorted(os.listdir(isolated_environment)) == ["plan.yaml"]


def test_ctrl_c_at_the_question_writes_nothing(create, isolated_environment):
    term = create()
    term.type("C-c")
    assert term.exit_code() != 0
    assert sorted(os.listdir(isolated_environment)) == ["plan.yaml"]


def test_renaming_the_set_then_approving(create, isolated_environment):
    term = create()
    choose(term, RENAME, "size vs rank", prompt="New short name for the set:")
    term.wait_for(QUESTION, times=2)
    assert "size-vs-rank_2025-10-18" in term.screen()
    choose(term, APPROVE)
    assert term.exit_code() == 0
    assert (isolated_environment / "size-vs-rank_2025-10-18" / "README.md").is_file()


def test_changing_the_template_then_approving(create, isolated_environment):
    term = create()
    choose(term, TEMPLATE, "{model}_r{lora_rank}", prompt="Naming template:")
    term.wait_for(QUESTION, times=2)
    assert "3B_r16" in term.screen()
    choose(term, APPROVE)
    assert term.exit_code() == 0
    assert (isolated_environment / "interactive_2025-10-18" / "3B_r16").is_dir()


def test_a_bad_template_is_explained_and_the_question_asked_again(create, isolated_environment):
    term = create()
    choose(term, TEMPLATE, "{model}", prompt="Naming template:")
    term.wait_for("leaves out lora_rank")
    term.wait_for(QUESTION, times=2)
    choose(term, CANCEL)
    assert term.exit_code() == 1
    assert sorted(os.listdir(isolated_environment)) == ["plan.yaml"]


def test_the_wizard_writes_a_plan_and_creates_the_set(terminal, isolated_environment):
    term = terminal("new", cwd=isolated_environment)
    term.answer("Purpose", "Does rank matter for arithmetic?")
    term.answer("Short name", "rank study")
    term.answer("Parameter to vary", "lora_rank")
    term.answer("Values of lora_rank", "8, 16, 32")
    term.answer("Parameter to vary", "lr")
    term.answer("Values of lr", "1e-4,2e-5")
    term.answer("Parameter to vary", "")
    term.answer("Fixed parameter", "model=Llama-3.2-1B-Instruct")
    term.answer("Fixed parameter", "")
    term.wait_for("Training data")
    term.type("Down", "Enter")  # the first bundled data set, arithmetic_train.jsonl
    term.answer("Evaluation tasks", "arithmetic")
    term.answer("Task for arithmetic", "")  # the bundled task of that name is offered first
    term.answer("Notes", "")
    term.answer("Author", "")
    term.answer("Create the set now?", "")
    term.wait_for(QUESTION)
    term.type("Enter")
    assert term.exit_code() == 0
    plan = (isolated_environment / "expset.yaml").read_text()
    assert "  lr: [0.0001, 2.0e-05]\n" in plan
    [set_dir] = [p for p in isolated_environment.iterdir() if p.is_dir()]
    assert set_dir.name.startswith("rank-study_")
    folders = sorted(p.name for p in set_dir.iterdir() if p.is_dir())
    assert folders[:3] == ["base", "rank16_lr1e-4", "rank16_lr2e-5"]  # base: the control run of the model


def test_the_wizard_asks_each_evaluations_task_offering_the_bundled_ones(terminal, isolated_environment):
    (isolated_environment / "tasks.py").write_text("# an inspect task file\n")
    (isolated_environment / "train.json").write_text('[{"input": "a", "output": "A"}]\n')
    term = terminal("new", cwd=isolated_environment)
    term.answer("Purpose", "Which task suffers from fine-tuning?")
    term.answer("Short name", "")
    term.answer("Parameter to vary", "lora_rank")
    term.answer("Values of lora_rank", "8, 16")
    term.answer("Parameter to vary", "")
    term.answer("Fixed parameter", "")
    term.answer("Training data", "")  # a file of my own
    term.answer("Training data file", "train.json")
    term.answer("Evaluation tasks", "capitalization, fluency")
    screen = term.wait_for("Task for capitalization")
    assert "arithmetic (bundled with expset)" in screen and "capitalization (bundled with expset)" in screen
    term.type("Enter")
    term.answer("Task for fluency", "")  # no bundled task of that name: a task file of my own
    term.answer("Task for fluency, as path/to/file.py@task_name", "tasks.py@fluency")
    term.answer("Notes", "")
    term.answer("Author", "")
    term.wait_for("Create the set now?")
    term.type("n")
    assert term.exit_code() == 0
    plan = load_yaml((isolated_environment / "expset.yaml").read_text(), "expset.yaml")
    assert plan["fixed"] == {"dataset": str(isolated_environment / "train.json")}
    bundled = Path(expset.__file__).parent / "examples" / "tasks" / "capitalization.py"
    assert plan["evaluations"] == [
        {"name": "capitalization", "task": f"{bundled}@capitalization"},
        {"name": "fluency", "task": f"{isolated_environment / 'tasks.py'}@fluency"},
    ]


def test_profile_init_asks_for_the_site_settings_and_writes_them(terminal, isolated_environment, monkeypatch):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    term = terminal("profile", "init", cwd=isolated_environment)
    answers = {
        "Folder where experiment sets are created": "/scratch/me/sets",
        "Folder holding model checkpoints": "/scratch/me/models",
        "Folder holding training data": "/scratch/me/data",
        "SLURM account": "mylab",
        "SLURM partition": "gpu",
        "SLURM QoS": "",
        "SLURM constraint": "a100",
        "E-mail for job notices": "",
        "When to mail": "FAIL",
        "Default time limit, e.g.": "",
        "Default time limit of evaluation jobs": "04:00:00",
        "Longest time limit a job may ask for": "2-00:00:00",
        "Jobs run offline": "",  # the default: yes
    }
    for prompt, answer in answers.items():
        term.answer(prompt, answer)
    term.answer("Shell lines that set up the job environment", "module load anaconda3")
    term.answer("Shell lines that set up the job environment", "conda activate tune")
    term.answer("Shell lines that set up the job environment", "")
    assert term.exit_code() == 0
    assert profile.read_text().splitlines()[2:] == [
        'root = "/scratch/me/sets"',
        'models_folder = "/scratch/me/models"',
        'data_folder = "/scratch/me/data"',
        'account = "mylab"',
        'partition = "gpu"',
        'constraint = "a100"',
        'mail_type = "FAIL"',
        'evaluation_time = "04:00:00"',
        'max_time = "2-00:00:00"',
        'environment = ["module load anaconda3", "conda activate tune"]',
    ]


@pytest.fixture
def archivable(site, isolated_environment):
    """A scaffolded set and an empty folder for its archive."""
    from site_helpers import expset as run_expset

    set_dir = site.create()
    assert run_expset("scaffold", str(set_dir)).exit_code == 0
    out = isolated_environment / "archives"
    out.mkdir()
    return set_dir, out


def test_declining_to_archive_writes_nothing(terminal, archivable, isolated_environment):
    set_dir, out = archivable
    term = terminal("archive", str(set_dir), "--to", str(out), cwd=isolated_environment)
    term.wait_for("Write 1 archive(s)?")
    term.type("n")
    assert term.exit_code() == 1
    assert os.listdir(out) == []


def test_removal_is_asked_again_even_with_yes_and_declining_it_removes_nothing(
    terminal, archivable, isolated_environment
):
    set_dir, out = archivable

    def files() -> list[str]:  # the set's lock file, which archive takes, is expset's own
        return sorted(str(path) for path in set_dir.rglob("*") if path.name != "submit.lock")

    before = files()
    options = ("--to", str(out), "--yes", "--remove-after-verify")
    term = terminal("archive", str(set_dir), *options, cwd=isolated_environment)
    term.wait_for("from the set?")
    assert "freed" in term.screen()
    term.type("n")
    assert term.exit_code() == 0
    assert "nothing was removed" in term.screen()
    assert os.listdir(out) == [f"{set_dir.name}.tar.gz"]
    assert files() == before

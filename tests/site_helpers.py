"""A researcher's site in a temp dir: data and models folders, an inspect task file, a profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from expset.cli.app import app
from expset.render.yaml_text import to_yaml

TASKS = """\
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes


@task
def capitalization():
    return Task(dataset=[Sample(input="Capitalize: paris", target="Paris")], scorer=includes())


@task
def arithmetic():
    return Task(dataset=[Sample(input="2 + 2 =", target="4")], scorer=includes())
"""

SITE_MODELS = ("Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct")
"""The models whose folders a site holds (a few bytes each: enough for `expset check`)."""


class Site:
    """Folders and files a researcher would have, plus helpers to create and scaffold sets."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = root / "models"
        self.data = root / "data"
        self.models.mkdir()
        self.data.mkdir()
        for model in SITE_MODELS:
            self.add_model_files(model)
        (self.data / "words.json").write_text(json.dumps([{"input": "hi", "output": "HI"}]))
        (self.data / "numbers.jsonl").write_text(json.dumps({"input": "1+1", "output": "2"}) + "\n")
        self.tasks = root / "tasks.py"
        self.tasks.write_text(TASKS)
        self.profile = root / "profile.toml"
        self.profile.write_text(
            f'models_folder = "{self.models}"\ndata_folder = "{self.data}"\naccount = "lab"\n'
            'partition = "gpu"\nenvironment = ["module load cuda", "source ~/venvs/tune/bin/activate"]\n'
        )

    def add_model_files(self, name: str) -> Path:
        """Stand-in files where the model's checkpoint and tokenizer would be: `expset check` looks for them."""
        from expset.check import checkpoint_names
        from expset.core.models import MODELS

        folder = self.models / name
        for file in [*checkpoint_names(MODELS[name].checkpoint_files), *MODELS[name].tokenizer_files.values()]:
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            (folder / file).write_bytes(b"stand-in")
        return folder

    def plan(self, **changes: Any) -> dict[str, Any]:
        plan: dict[str, Any] = {
            "name": "scaffold test",
            "date": "2025-10-18",
            "author": "Ada",
            "purpose": "Scaffold the seed example.",
            "vary": {"model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"], "lora_rank": [8, 16]},
            "fixed": {"dataset": "words", "lr": 1e-4, "epochs": 2},
            "evaluations": [
                {"name": "capitalization", "task": f"{self.tasks}@capitalization", "epochs": "all"},
                {"name": "arithmetic", "task": f"{self.tasks}@arithmetic"},
            ],
            "controls": False,  # the tests of control runs ask for them
        }
        plan.update(changes)
        return plan

    def create(self, **changes: Any) -> Path:
        plan_file = self.root / "plan.yaml"
        plan_file.write_text(to_yaml(self.plan(**changes)))
        result = expset("create", str(plan_file), "--yes", "--root", str(self.root))
        assert result.exit_code == 0, result.stderr
        return self.root / "scaffold-test_2025-10-18"


def expset(*args: str):
    return CliRunner().invoke(app, list(args))

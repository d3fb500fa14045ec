"""Start-up stays light: what ``--help`` and the core import, and the help printed without Typer."""

import subprocess
import sys

from typer.testing import CliRunner

from expset.cli.app import app
from expset.cli.main import top_level_help

HEAVY = ["typer", "pydantic", "jinja2", "ruamel.yaml", "rich", "questionary", "torch", "torchtune", "inspect_ai"]


def modules_loaded_by(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(output.split())


def test_help_and_version_import_no_heavy_library():
    loaded = modules_loaded_by(
        "import io, contextlib\n"
        "from expset.cli import main\n"
        "for args in (['--help'], ['--version']):\n"
        "    sys.argv = ['expset', *args]\n"
        "    with contextlib.redirect_stdout(io.StringIO()): main.main()"
    )
    assert not {name for name in loaded if name.split(".")[0] in {h.split(".")[0] for h in HEAVY}}


def test_the_fast_help_is_exactly_the_help_typer_prints():
    typer_help = CliRunner().invoke(app, ["--help"], terminal_width=80).stdout
    assert top_level_help() == typer_help


def test_version_is_printed():
    completed = subprocess.run([sys.executable, "-m", "expset", "--version"], capture_output=True, text=True)
    assert completed.stdout.startswith("expset ") and completed.returncode == 0


def test_the_core_imports_only_the_standard_library_and_pydantic():
    loaded = modules_loaded_by(
        "import expset.core.plan, expset.core.naming, expset.core.layout, expset.core.record, expset.core.run_setup, "
        "expset.core.jobs, expset.core.sections, expset.core.models"
    )
    baseline = modules_loaded_by("pass")
    top_level = {name.split(".")[0] for name in loaded - baseline if not name.startswith("_sysconfigdata")}
    third_party = top_level - set(sys.stdlib_module_names)
    assert third_party <= {
        "expset",
        "pydantic",
        "pydantic_core",
        "typing_extensions",
        "annotated_types",
        "typing_inspection",
    }, third_party


def test_rendering_a_set_never_imports_torch_or_inspect():
    loaded = modules_loaded_by(
        "import datetime as dt\n"
        "from expset.core.plan import parse_plan\nfrom expset.core.naming import design_set\n"
        "from expset.core.layout import plan_layout\nfrom expset.render.set_files import render_set_files\n"
        "s = design_set(parse_plan({'purpose': 'p', 'vary': {'lr': [1, 2]}}, today=dt.date(2026, 1, 1),"
        " default_author='a'))\nlist(render_set_files(s, plan_layout(s), '0'))"
    )
    assert not loaded & {"torch", "torchtune", "inspect_ai"}

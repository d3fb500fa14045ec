"""The README's promises: two Quick-start commands, the one CI runs, links that resolve."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> str:
    return README.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_quick_start_has_exactly_two_commands():
    assert len(re.findall(r"```bash\n", quick_start())) == 2


def test_the_main_command_installs_and_creates_the_seed_example_with_approval_given():
    command = re.search(r"<!-- main-command -->\n```bash\n(.+)\n```", README).group(1)
    assert "pip install ." in command and "expset create --example size-rank --yes" in command


def test_ci_runs_the_readme_test_command():
    command = re.search(r"<!-- test-command -->\n```bash\n(.+)\n```", README).group(1)
    extracted = subprocess.run(
        ["sed", "-n", "/<!-- test-command -->/{n;n;p;}", "README.md"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert extracted == command
    assert "pytest" in command


def test_relative_links_in_the_readme_resolve():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target


def test_every_bundled_example_is_mentioned():
    for example in (ROOT / "src/expset/examples").glob("*.yaml"):
        assert f"`{example.stem}`" in README

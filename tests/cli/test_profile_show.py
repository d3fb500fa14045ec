"""``expset profile show``: every key a profile takes, with its meaning, as TOML one can save and fill in."""

import re

from expset.core.site_settings import Site
from expset.site import read_profile

from helpers import run_expset


def uncommented(text: str) -> str:
    """The template with every commented-out setting uncommented (the meanings stay comments)."""
    return re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)


def test_without_a_profile_every_key_is_printed_commented_out_under_its_meaning(isolated_environment, monkeypatch):
    monkeypatch.setenv("EXPSET_PROFILE", str(isolated_environment / "profile.toml"))
    result = run_expset("profile", "show")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for key in Site.model_fields:
        [line] = [line for line in lines if line.startswith(f"# {key} = ")]
        meaning = lines[lines.index(line) - 1]
        assert meaning.startswith("# ") and len(meaning) > len(key) + 10, (key, meaning)
    assert "# models_folder = " in result.stdout and "Folder holding model checkpoints" in result.stdout
    assert "not created yet" in result.stderr and "expset profile init" in result.stderr


def test_the_template_saved_as_is_is_an_empty_profile(isolated_environment, monkeypatch):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    profile.write_text(run_expset("profile", "show").stdout, encoding="utf-8")
    assert read_profile(profile) == Site()


def test_the_template_with_every_key_uncommented_is_a_valid_profile_setting_each_key(isolated_environment, monkeypatch):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    profile.write_text(uncommented(run_expset("profile", "show").stdout), encoding="utf-8")
    assert set(read_profile(profile).model_dump(exclude_none=True)) == set(Site.model_fields)


def test_set_keys_show_their_values_and_the_others_stay_commented_out(isolated_environment, monkeypatch):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    profile.write_text('partition = "gpu"\nenvironment = ["module load cuda"]\n', encoding="utf-8")
    result = run_expset("profile", "show")
    assert result.returncode == 0, result.stderr
    assert 'partition = "gpu"\n' in result.stdout and 'environment = ["module load cuda"]\n' in result.stdout
    assert "\n# account = " in result.stdout
    assert profile.read_text(encoding="utf-8") == 'partition = "gpu"\nenvironment = ["module load cuda"]\n'


def test_a_profile_with_an_unknown_key_is_named_and_the_keys_are_still_shown(isolated_environment, monkeypatch):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    profile.write_text('partion = "gpu"\n', encoding="utf-8")
    result = run_expset("profile", "show")
    assert result.returncode == 2
    assert f"error: {profile}: partion:" in result.stderr
    assert "# partition = " in result.stdout


def test_profile_init_refuses_at_the_question_a_value_slurm_cannot_read():
    from expset.cli.prompts import _sbatch_value
    from expset.core.site_settings import BY_FIELD

    check = _sbatch_value(BY_FIELD["time"].pattern)
    assert check("02:00:00") is True and check("") is True
    assert "#SBATCH" in str(check("2h"))


def test_a_profile_with_a_value_slurm_cannot_read_is_named_by_file_and_key(isolated_environment, monkeypatch):
    profile = isolated_environment / "profile.toml"
    monkeypatch.setenv("EXPSET_PROFILE", str(profile))
    profile.write_text('time = "2h"\n', encoding="utf-8")
    result = run_expset("plan", "--purpose", "p", "--vary", "lr=1,2")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {profile}: time: '2h' cannot go in an #SBATCH line"), result.stderr

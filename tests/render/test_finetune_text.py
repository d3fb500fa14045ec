"""Text in ``finetune.yaml`` reaches torchtune as written in the setup: OmegaConf's ``${…}`` and ``???``
in any value are escaped, and expset's own ``${output_dir}`` references still resolve. Checked with
torchtune's own entry point (``config.parse``) and ``config.instantiate``, which resolves a component's
arguments twice."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expset.render.finetune import Reference, for_omegaconf, omegaconf_text
from expset.render.yaml_text import to_yaml
from torchtune_reader import component_arguments, torchtune_reads

OMEGACONF_TEXT = st.text(st.sampled_from(list("\\${}?:.'\"ab =-")), max_size=16) | st.text(max_size=16)
HOSTILE = ["${oc.env:EXPSET_SECRET}", "\\${oc.env:EXPSET_SECRET}", "a\\\\${oc.env:EXPSET_SECRET}", "${", "$${x}}"]


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "finetune.yaml"
    path.write_text(to_yaml(for_omegaconf(data)))
    return path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=OMEGACONF_TEXT)
def test_any_text_reaches_a_component_and_a_setting_unchanged(tmp_path, monkeypatch, text):
    monkeypatch.setenv("EXPSET_SECRET", "leaked")
    data = {"setting": text, "section": {"_component_": "x", "text": text, "texts": [text], "nested": {"a": text}}}
    cfg = torchtune_reads(write(tmp_path, data))
    assert cfg.setting == text
    assert component_arguments(cfg, "section") == {"text": text, "texts": [text], "nested": {"a": text}}


def test_references_resolve_inside_components_and_settings(tmp_path):
    data = {
        "output_dir": "/runs/r1",
        "logs": Reference("${output_dir}/logs"),
        "checkpointer": {"_component_": "x", "output_dir": Reference("${output_dir}")},
    }
    cfg = torchtune_reads(write(tmp_path, data))
    assert cfg.logs == "/runs/r1/logs"
    assert component_arguments(cfg, "checkpointer") == {"output_dir": "/runs/r1"}


@pytest.mark.parametrize("text", HOSTILE)
def test_text_read_once_from_a_component_never_reads_the_environment(tmp_path, monkeypatch, text):
    """Read directly (as recipes read ``model.lora_attn_modules``), a component's text keeps one escape."""
    from omegaconf import OmegaConf

    monkeypatch.setenv("EXPSET_SECRET", "leaked")
    cfg = torchtune_reads(write(tmp_path, {"model": {"_component_": "x", "modules": [text]}}))
    once = OmegaConf.to_container(cfg, resolve=True)["model"]["modules"][0]
    assert once == omegaconf_text(text, resolutions=1) and "leaked" not in once


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("${oc.env:HOME}", "\\${oc.env:HOME}"),
        ("\\${x}", "\\\\\\${x}"),
        ("a\\b", "a\\b"),
        ("???", "\\\\???"),
        ("\\???", "\\\\\\???"),
        ("what???", "what???"),
        ("/data/words.json", "/data/words.json"),
    ],
)
def test_escapes_follow_omegaconfs_rules(text, escaped):
    assert omegaconf_text(text) == escaped

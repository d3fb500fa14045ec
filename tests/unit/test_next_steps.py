"""The next steps printed after create and scaffold, checked against this machine's settings."""

import datetime as dt
from pathlib import Path

from expset.core.naming import design_set
from expset.core.plan import parse_plan
from expset.core.site_settings import Site
from expset.next_steps import before_scaffold

SPEC = {"builder": "b", "tokenizer": "t", "tokenizer_files": {"path": "x"}, "checkpoint_files": ["m"]}


def plan_with_model(model: dict) -> object:
    data = {"purpose": "p", "vary": {"lr": [1e-4, 2e-4]}, "fixed": {"model": "tiny", "dataset": "/d.json"}}
    data["models"] = {"tiny": {**SPEC, "model_type": "LLAMA2", **model}}
    return design_set(parse_plan(data, today=dt.date(2026, 1, 1), default_author="a"))


def test_a_plan_model_without_a_folder_needs_nothing_more_once_a_models_folder_is_set(tmp_path):
    assert before_scaffold(plan_with_model({}), Site(models_folder=str(tmp_path)), tmp_path / "profile.toml") == []


def test_a_plan_model_without_a_folder_and_no_models_folder_asks_for_one(tmp_path):
    steps = before_scaffold(plan_with_model({}), Site(), Path("profile.toml"))
    assert any("models_folder" in step or "profile init" in step for step in steps), steps

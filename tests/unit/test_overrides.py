"""torchtune settings by config path: which a plan may set, what is refused and why, how they apply."""

import copy
import importlib.util
import re
from pathlib import Path

import pytest

from expset.core.overrides import RECIPE_KEYS, apply_overrides, override_problem, unknown_key_problem
from expset.core.plan import parse_plan
from expset.errors import PlanError

from helpers import SEED_PLAN, TODAY


def problems(**changes) -> list[str]:
    data = copy.deepcopy(SEED_PLAN)
    data.update(changes)
    with pytest.raises(PlanError) as caught:
        parse_plan(data, today=TODAY, default_author="ada")
    return caught.value.problems


def parse(**changes):
    data = copy.deepcopy(SEED_PLAN)
    data.update(changes)
    return parse_plan(data, today=TODAY, default_author="ada")


@pytest.mark.parametrize(
    "key",
    [
        *("optimizer.weight_decay", "lr_scheduler.num_warmup_steps", "clip_grad_norm", "compile", "optimizer.betas"),
        *("enable_activation_checkpointing", "~profiler", "model.apply_lora_to_mlp", "model.apply_lora_to_output"),
    ],
)
def test_torchtune_settings_by_path_are_accepted(key):
    assert unknown_key_problem(key, set()) is None


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("optimizer.lr", "is what expset's parameter lr sets — write lr instead"),
        ("model.lora_rank", "is what expset's parameter lora_rank sets — write lora_rank instead"),
        ("tokenizer.max_seq_len", "write max_seq_len instead"),
        ("output_dir", "is set by expset from the run's folder"),
        ("checkpointer.checkpoint_dir", "is set by expset from the model's folder"),
        ("checkpointer", "holds checkpointer.checkpoint_dir, which expset sets"),
        ("dataset.data_files", "is set by expset from the dataset parameter"),
        ("metric_logger._component_", "`expset report` reads the training log"),
        ("optimzer.weight_decay", "did you mean 'optimizer'?"),
        ("lora_rnak", "did you mean 'lora_rank'?"),
        ("warmup_ratio", "declare a parameter of your own under labels: (warmup_ratio: what it means)"),
    ],
)
def test_keys_expset_cannot_apply_as_written_say_why_and_what_to_write(key, said):
    problem = unknown_key_problem(key, set())
    assert problem is not None and said in problem


def test_a_label_is_accepted_where_it_is_declared():
    plan = parse(vary={"lora_rank": [8, 16], "prompt_style": ["short", "long"]}, labels={"prompt_style": "our prompts"})
    assert plan.vary["prompt_style"] == ["short", "long"]


def test_a_label_that_nothing_uses_is_refused():
    assert problems(labels={"style": "unused"}) == [
        "labels.style: not in vary or fixed — list its values there, or remove the label"
    ]


def test_a_removal_cannot_vary():
    assert "vary.~compile: a removal cannot vary — move it to fixed" in problems(vary={"~compile": [1, 2]})


def test_null_is_a_value_of_a_torchtune_setting_only():
    assert parse(fixed={"clip_grad_norm": None, "~profiler": None}).fixed["clip_grad_norm"] is None
    assert problems(fixed={"lr": None}) == ["fixed.lr: null is not a value of lr — remove the line to use its default"]


def test_a_known_setting_is_held_to_its_range_and_kind():
    assert problems(fixed={"optimizer.weight_decay": -0.1}) == [
        "fixed.optimizer.weight_decay: -0.1 is out of range — optimizer.weight_decay takes a number of at least 0"
    ]
    assert problems(fixed={"lr_scheduler.num_warmup_steps": "many"})[0].startswith(
        "fixed.lr_scheduler.num_warmup_steps: 'many' is not a number"
    )


def test_every_problem_of_a_plan_is_named_at_once():
    found = problems(vary={"lora_rnak": [8, 16], "learnign_rate": [1e-4, 1e-3]})
    assert [line.split(":")[0] for line in found] == ["vary.lora_rnak", "vary.learnign_rate"]


def test_settings_apply_last_set_nested_values_remove_and_leave_the_config_given_alone():
    config = {"optimizer": {"_component_": "torch.optim.AdamW", "lr": 1e-4}, "profiler": {"enabled": False}}
    applied = apply_overrides(
        config, {"optimizer.weight_decay": 0.1, "~profiler": None, "~optimizer.fused": None, "new.deep.key": 1}
    )
    assert applied == {
        "optimizer": {"_component_": "torch.optim.AdamW", "lr": 1e-4, "weight_decay": 0.1},
        "new": {"deep": {"key": 1}},
    }
    assert config["profiler"] == {"enabled": False}


def test_the_recipe_settings_table_holds_every_setting_torchtunes_lora_recipes_read():
    """Read from the installed recipes' source (no import): a setting they read that the table lacks would be
    refused in a plan although torchtune takes it."""
    recipes = importlib.util.find_spec("recipes")  # installed by torchtune; importing it is refused on purpose
    assert recipes is not None and recipes.submodule_search_locations
    folder = Path(recipes.submodule_search_locations[0])
    read = set()
    for name in ("lora_finetune_single_device.py", "lora_finetune_distributed.py"):
        source = (folder / name).read_text()
        read |= set(re.findall(r"\bcfg\.get\(\s*\"(\w+)\"", source)) | set(re.findall(r"\bcfg\.(\w+)\b", source))
    profiler_own = {"get", "active_steps", "wait_steps", "warmup_steps", "enabled"}  # its own config, passed on
    assert read - profiler_own <= RECIPE_KEYS


def test_a_path_that_is_not_one_is_refused():
    assert override_problem("optimizer..lr") is not None
    assert override_problem("~~compile") is not None


def test_every_generation_setting_an_evaluation_takes_is_one_of_inspects():
    from inspect_ai.model import GenerateConfig

    from expset.core.sections import GENERATE_SETTINGS

    assert set(GENERATE_SETTINGS) <= set(GenerateConfig.model_fields)


def test_a_label_must_be_a_plain_name():
    assert problems(vary={"lora_rank": [8, 16], "a b": [1, 2]}, labels={"a b": "spaced"})[0] == (
        "labels.a b: not a parameter name — use letters, digits and _ (e.g. prompt_style)"
    )


@pytest.mark.parametrize("key", ["loss", "seed", "compile"])
def test_a_label_cannot_be_called_like_a_setting_expset_applies(key):
    assert problems(vary={"lora_rank": [8, 16], key: [1, 2]}, labels={key: "mine"})[0] == (
        f"labels.{key}: is a setting expset applies, not a label — call your own parameter another name"
    )


def test_a_removal_takes_no_value():
    assert problems(fixed={"~compile": True}) == ["fixed.~compile: a removal takes no value — write ~compile: null"]


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("lr_scheduler.num_warmup_step", "did you mean lr_scheduler.num_warmup_steps?"),
        ("optimizer.weight_decy", "did you mean optimizer.weight_decay?"),
    ],
)
def test_a_misspelt_argument_of_a_component_expset_builds_is_refused(key, said):
    [problem] = problems(fixed={key: 1})
    assert problem.startswith(f"fixed.{key}: is not an argument of") and said in problem


def test_an_argument_of_a_component_the_plan_chooses_itself_is_left_to_it():
    plan = parse(
        fixed={"optimizer._component_": "torch.optim.SGD", "optimizer.momentum": 0.9, "~optimizer.fused": None}
    )
    assert plan.fixed["optimizer.momentum"] == 0.9


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("tokenizer.prompt_template", "prompt.template in the plan"),
        ("dataset.new_system_prompt", "prompt.system in the plan"),
        ("dataset.split", "data.split and validation: in the plan"),
        ("lr_scheduler.num_training_steps", "the recipe: the run's length"),
        ("~model", "which expset sets — set the settings you mean inside it by their own paths"),
    ],
)
def test_paths_that_would_bypass_the_plans_own_sections_are_refused(key, said):
    problem = unknown_key_problem(key, set())
    assert problem is not None and said in problem


def test_the_component_arguments_a_plan_may_give_are_the_components_own():
    import inspect

    from torchtune.config._utils import _get_component_from_path

    from expset.core.overrides import COMPONENT_ARGUMENTS

    for component, arguments in COMPONENT_ARGUMENTS.values():
        assert set(arguments) <= set(inspect.signature(_get_component_from_path(component)).parameters), component

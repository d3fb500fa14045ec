"""The naming convention: tokens, templates, aliases, uniqueness, safety, length and reversibility."""

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expset.core.naming import MAX_NAME_LENGTH, decode_run_name, design_set
from expset.core.plan import parse_plan
from expset.core.values import is_safe_name, value_identity
from expset.errors import NamingError, PlanError

from helpers import SEED_PLAN, TODAY


def design(**changes):
    data = copy.deepcopy(SEED_PLAN)
    data.update(changes)
    return design_set(parse_plan(data, today=TODAY, default_author="ada"))


def names(**changes) -> list[str]:
    return [run.name for run in design(**changes).runs]


def test_seed_example_names_runs_by_size_and_rank_in_vary_order():
    assert names() == ["1B_rank8", "1B_rank16", "3B_rank8", "3B_rank16"]


def test_vary_order_decides_the_order_of_tokens():
    assert names(vary={"lora_rank": [8], "model": ["Llama-3.2-1B-Instruct", "Llama-3.2-3B-Instruct"]}) == [
        "rank8_1B",
        "rank8_3B",
    ]


def test_models_that_differ_in_more_than_size_get_family_and_size_labels():
    assert names(vary={"model": ["Llama-3.2-1B-Instruct", "Qwen2.5-7B-Instruct"]}) == ["llama3.2_1B", "qwen2.5_7B"]


def test_base_and_instruct_variants_of_one_model_are_told_apart():
    assert names(vary={"model": ["Llama-3.2-1B", "Llama-3.2-1B-Instruct"]}) == ["llama3.2_1B", "llama3.2_1B-it"]


def test_unknown_models_that_differ_only_in_size_get_their_size():
    spec = {"builder": "b", "tokenizer": "t", "tokenizer_files": {"path": "x"}, "checkpoint_files": ["m"]}
    models = {name: {**spec, "model_type": "LLAMA2"} for name in ("org/my-llama-7b", "org/my-llama-13b")}
    assert names(vary={"model": list(models)}, models=models) == ["7B", "13B"]


@pytest.mark.parametrize(
    ("key", "values", "expected"),
    [
        ("lora_alpha", [16, 32], ["alpha16", "alpha32"]),
        ("lr", [1e-4, 2e-5], ["lr1e-4", "lr2e-5"]),
        ("learning_rate", ["3e-4", 0.001], ["lr3e-4", "lr1e-3"]),
        ("epochs", [1, 3], ["ep1", "ep3"]),
        ("batch_size", [4, 8], ["bs4", "bs8"]),
        ("seed", [1, 42], ["seed1", "seed42"]),
        ("lora_dropout", [0.0, 0.05], ["drop0", "drop0.05"]),
        ("dataset", ["data/alpaca_clean.json", "data/words.jsonl"], ["alpaca-clean", "words"]),
        ("max_seq_len", [512, 1024], ["max-seq-len512", "max-seq-len1024"]),
        ("optimizer._component_", ["AdamW", "SGD"], ["component-adamw", "component-sgd"]),
        ("optimizer.weight_decay", [0.0, 0.1], ["wd0", "wd0.1"]),
        ("lr_scheduler.num_warmup_steps", [0, 50], ["warmup0", "warmup50"]),
    ],
)
def test_well_known_parameters_have_their_token_form(key, values, expected):
    assert names(vary={key: values}, fixed={}) == expected


def test_datasets_with_one_file_name_in_different_folders_use_the_path():
    assert names(vary={"dataset": ["a/train.json", "b/train.json"]}, fixed={}) == ["a-train", "b-train"]


def test_fixed_parameters_never_appear_in_names():
    assert all("lr" not in name and "ep" not in name for name in names())


def test_aliases_replace_the_text_of_a_value():
    runs = names(
        vary={"dataset": ["census/acs income v2", "census/acs income v1"]},
        naming={"aliases": {"dataset": {"census/acs income v2": "acs2"}}},
    )
    assert runs == ["acs2", "acs-income-v1"]


@pytest.mark.parametrize("key", [8, "8", 8.0])
def test_alias_keys_match_values_however_written(key):
    assert names(naming={"aliases": {"lora_rank": {key: "small"}}})[0] == "1B_ranksmall"


def test_a_template_sets_the_shape_of_names():
    assert names(naming={"template": "{model}_r{lora_rank}"}) == ["1B_r8", "1B_r16", "3B_r8", "3B_r16"]


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{model}", "leaves out lora_rank"),
        ("{model}_{lora_rank}_{lr}", "{lr} is not a varied parameter (fixed parameters never appear in names)"),
        ("{model}/{lora_rank}", "cannot appear in a folder name"),
        ("{model:>5}_{lora_rank}", "has a format or conversion"),
        ("{model_{lora_rank}", "is not a template"),
        ("_{model}_{lora_rank}", "must start with"),
    ],
)
def test_bad_templates_are_rejected_with_the_reason(template, fragment):
    with pytest.raises(NamingError) as caught:
        design(naming={"template": template})
    assert caught.value.message.startswith("naming.template: ")
    assert fragment in caught.value.message


def test_two_runs_that_would_share_a_name_are_both_named_in_the_error():
    with pytest.raises(NamingError) as caught:
        design(vary={"dataset": ["Words!", "words?"]}, fixed={})
    message = caught.value.message
    assert "{dataset: Words!}" in message and "{dataset: words?}" in message and "'words'" in message
    assert "naming.aliases" in caught.value.hint


def test_long_names_are_cut_with_a_hash_and_stay_unique():
    long_values = ["x" * 150 + "a", "x" * 150 + "b"]
    runs = design(vary={"dataset": long_values}, fixed={}).runs
    assert all(run.shortened and len(run.name) <= MAX_NAME_LENGTH for run in runs)
    assert runs[0].name != runs[1].name


def test_shortened_names_still_decode():
    experiment_set = design(vary={"dataset": ["x" * 150 + "a", "x" * 150 + "b"]}, fixed={})
    run = experiment_set.runs[1]
    assert decode_run_name(experiment_set.convention, run.name) == run.varied


def test_decoding_an_unknown_name_gives_none():
    assert decode_run_name(design().convention, "5B_rank8") is None


def test_set_name_is_the_slug_of_the_name_and_the_date():
    assert design(name="LoRA comparison").set_name == "lora-comparison_2026-11-29"


def test_set_name_is_derived_from_what_varies_when_no_name_is_given():
    assert design().set_name == "llama3.2-size-rank_2026-11-29"
    assert design(vary={"lr": [1e-4, 2e-4], "dataset": ["a", "b"]}, fixed={}).set_name == "lr-dataset_2026-11-29"


def test_a_single_run_set_names_its_run_run():
    experiment_set = design(vary={}, single_run_reason="baseline")
    assert [run.name for run in experiment_set.runs] == ["run"]


# --- properties: for any valid plan, names are unique, safe and decode back to their parameters ---

KEYS = ["model", "dataset", "lr", "lora_rank", "seed", "epochs", "compile", "style"]
keys = st.sampled_from([*KEYS, "lr_scheduler.num_warmup_steps", "optimizer._component_"])
SPEC = {"builder": "b", "tokenizer": "t", "tokenizer_files": {"path": "x"}, "checkpoint_files": ["m"]}
texts = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), min_size=1, max_size=40)
numbers = st.one_of(st.integers(0, 10**6), st.floats(1e-9, 1e3, allow_nan=False, allow_infinity=False))


def values_for(key: str, min_size: int = 1):
    if key in ("lr", "lora_rank", "seed", "epochs", "lr_scheduler.num_warmup_steps"):
        kind = numbers if key == "lr" else st.integers(1, 4096)
    elif key == "compile":
        kind = st.booleans()
    else:
        kind = st.one_of(texts, numbers)
    return st.lists(kind, min_size=min_size, max_size=4, unique_by=value_identity)


@st.composite
def plans(draw):
    chosen = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    vary = {key: draw(values_for(key, min_size=2 if key == chosen[0] else 1)) for key in chosen}
    models = {str(value): {**SPEC, "model_type": "LLAMA2"} for value in vary.get("model", [])}
    return {"purpose": "property", "vary": vary, "labels": {"style": "an answer style"}, "models": models}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_any_valid_plan_gets_unique_safe_reversible_names(data):
    try:
        experiment_set = design_set(parse_plan(data, today=TODAY, default_author="ada"))
    except (PlanError, NamingError):
        return  # rejected plans (duplicates, colliding texts) are reported, never named
    run_names = [run.name for run in experiment_set.runs]
    assert len(set(run_names)) == len(run_names)
    for run in experiment_set.runs:
        assert is_safe_name(run.name)
        assert len(run.name.encode()) <= MAX_NAME_LENGTH
        assert decode_run_name(experiment_set.convention, run.name) == run.varied


def test_models_a_plan_defines_with_family_and_size_are_named_by_size_like_the_tables():
    spec = {"builder": "b", "tokenizer": "t", "tokenizer_files": {"path": "x"}, "checkpoint_files": ["m"]}
    spec["model_type"] = "LLAMA2"
    models = {"alpha": {**spec, "family": "mine", "size": "1B"}, "beta": {**spec, "family": "mine", "size": "3B"}}
    plan = parse_plan(
        {"purpose": "p", "vary": {"model": ["alpha", "beta"]}, "models": models, "date": "2026-01-01"},
        today=TODAY,
        default_author="a",
    )
    experiment_set = design_set(plan)
    assert [run.name for run in experiment_set.runs] == ["1B", "3B"]
    assert experiment_set.set_name == "mine-size_2026-01-01"

"""Canonical value text: the building blocks of every name."""

import pytest

from expset.core.values import format_number, format_scientific, is_safe_name, slugify


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-4, "1e-4"),
        (0.0001, "1e-4"),
        (2e-5, "2e-5"),
        (2.5e-5, "2.5e-5"),
        (3e-4, "3e-4"),
        (1.5e-4, "1.5e-4"),
        (0.001, "1e-3"),
        (1, "1e0"),
        (0, "0"),
    ],
)
def test_learning_rates_are_written_in_normalised_scientific_form(value, text):
    assert format_scientific(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(16, "16"), (16.0, "16"), (0.05, "0.05"), (1e-5, "1e-5"), (True, "true"), (-3, "-3")]
)
def test_numbers_are_written_in_their_shortest_exact_form(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("census/acs income v2", "census-acs-income-v2"),
        ("alpaca_clean", "alpaca-clean"),
        ("--A..b--", "a.b"),
        ("???", ""),
    ],
)
def test_slugs_keep_letters_digits_dots_and_dashes(text, slug):
    assert slugify(text) == slug


@pytest.mark.parametrize("name", ["..", ".hidden", "-rf", "a/b", "a\x00b", "", "a..b", "/abs", "a b", "task\n"])
def test_names_that_could_escape_or_confuse_are_unsafe(name):
    assert not is_safe_name(name)


@pytest.mark.parametrize("name", ["1B_rank8", "llama3.2_1B", "lr1e-4_acs2"])
def test_ordinary_run_names_are_safe(name):
    assert is_safe_name(name)

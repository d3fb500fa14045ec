"""expset's YAML emitter: whatever the data, a YAML 1.2 reader gets exactly the same data back."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from expset.render.yaml_read import load_yaml
from expset.render.yaml_text import scalar_text, to_yaml

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
keys = st.text(min_size=1, max_size=15)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_any_data_reads_back_unchanged_in_yaml_1_2(data):
    assert load_yaml(to_yaml(data), "generated") == data


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_any_data_reads_back_unchanged_in_yaml_1_1_as_torchtune_reads_it(data):
    assert yaml.safe_load(to_yaml(data)) == data


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Llama-3.2-1B-Instruct", "Llama-3.2-1B-Instruct"),
        ("yes", '"yes"'),
        ("1e-4", '"1e-4"'),
        ("a: b", '"a: b"'),
        ("", '""'),
        (1e-4, "0.0001"),
        (True, "true"),
        ("census/acs income v2.json", "census/acs income v2.json"),
    ],
)
def test_plain_where_unambiguous_quoted_otherwise(value, text):
    assert scalar_text(value) == text

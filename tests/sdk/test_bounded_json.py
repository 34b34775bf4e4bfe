from __future__ import annotations

import json

import eth  # noqa: F401 - raises the recursion limit, as in every MedLedger process
import pytest
from hypothesis import given
from hypothesis import strategies as st

from medledger.sdk.bounded_json import BoundedJsonError, loads, nesting_depth


def test_a_deep_bracket_bomb_is_refused_without_parsing():
    bomb = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(BoundedJsonError) as err:
        loads(bomb, max_bytes=1 << 20)
    assert err.value.code == "too_deep"


def test_brackets_inside_strings_do_not_count_towards_depth():
    doc = json.dumps({"a": "[[[[[[[[[[" * 100, "b": ['\\"[[[', "{{{"]})
    assert loads(doc, max_bytes=1 << 20, max_depth=2) == json.loads(doc)
    assert nesting_depth(doc.encode()) == 2


def test_size_items_and_syntax_are_named():
    with pytest.raises(BoundedJsonError) as err:
        loads(b"[1,2,3]", max_bytes=3)
    assert err.value.code == "too_large" and "at most 3" in str(err.value)
    with pytest.raises(BoundedJsonError) as err:
        loads(b"[1,2,3,4]", max_bytes=100, max_items=3)
    assert err.value.code == "too_many_items"
    with pytest.raises(BoundedJsonError) as err:
        loads(b'{"a":', max_bytes=100)
    assert err.value.code == "not_json"
    with pytest.raises(BoundedJsonError) as err:
        loads(b"\xff\xfe[", max_bytes=100)
    assert err.value.code == "not_json"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_within_bounds_it_parses_as_json_does(value):
    doc = json.dumps(value)
    assert loads(doc, max_bytes=1 << 20) == json.loads(doc)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_the_one_error(data):
    try:
        loads(data, max_bytes=1 << 20, max_depth=8)
    except BoundedJsonError:
        pass

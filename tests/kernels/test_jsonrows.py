"""jem._core.jsonrows against its plain-Python oracle (tests/oracle/jsonrows_ref.py): rows of every
kind of scalar (odd text, big and negative integers, floats' corners), cells given as bytes, and
which columns hold one text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem._core.jsonrows import classify_columns, render_rows
from tests.oracle import jsonrows_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=300, deadline=None)
SCALAR = st.one_of(st.text(max_size=8), st.sampled_from(["", "a", "é", "\x00\x7f\"\\", "😀", "\ud800"]),
                   st.integers(-2**70, 2**70), st.sampled_from([0, -1, 2**63 - 1, -2**63, 2**63, -2**63 - 1]),
                   st.booleans(), st.none(), st.floats(), st.sampled_from([0.0, -0.0, float("nan"), 1e300]))
CELL = st.one_of(SCALAR, st.binary(max_size=6))


@st.composite
def tables(draw):
    """(pieces, columns, n_rows): a piece before each column and after the last, a cell per row."""
    n_columns, n_rows = draw(st.integers(0, 4)), draw(st.integers(0, 5))
    pieces = tuple(draw(st.lists(st.binary(max_size=5), min_size=n_columns + 1, max_size=n_columns + 1)))
    return pieces, [draw(st.lists(CELL, min_size=n_rows, max_size=n_rows)) for _ in range(n_columns)], n_rows


@PROPERTY_SETTINGS
@given(tables(), st.binary(max_size=3), st.binary(max_size=3), st.binary(max_size=3))
def test_rows_agree_with_oracle(table, prefix, separator, suffix):
    pieces, columns, n_rows = table
    got = render_rows(prefix, pieces, columns, n_rows, separator, suffix)
    assert bytes(got) == jsonrows_ref.render_rows(prefix, pieces, columns, n_rows, separator, suffix)
    assert len(got) == len(bytes(got)) and memoryview(got).readonly


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(st.lists(SCALAR, max_size=4),
                          st.integers(1, 4).flatmap(lambda n: st.sampled_from([0, 1, True, 1.0, -0.0, 0.0, "x", None])
                                                    .map(lambda v: [v] * n)),
                          st.lists(st.one_of(SCALAR, st.just([1]), st.just({})), max_size=3)), max_size=6))
def test_column_kinds_agree_with_oracle(columns):
    assert classify_columns(columns) == jsonrows_ref.classify_columns(columns)


def test_one_text_only_where_every_value_is_written_alike():
    assert classify_columns([[1, 1], [1, True], [0.0, -0.0], ["a", "a"], [None, None], [[], []], [], [2**70, 2**70]]) \
        == bytes([0, 1, 1, 0, 0, 2, 1, 0])


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        render_rows(b"", (b"",), [[1]], 1, b"", b"")          # a piece short
    with pytest.raises(ValueError):
        render_rows(b"", (b"", b""), [[1]], 2, b"", b"")      # a value short
    with pytest.raises(TypeError):
        render_rows(b"", (b"", b""), [[[1]]], 1, b"", b"")    # a list is the caller's to encode
    with pytest.raises(TypeError):
        render_rows(b"", ("", b""), [[1]], 1, b"", b"")       # pieces are bytes


def test_a_large_text_grows_past_its_first_guess():
    long_text = "x" * 5000   # (far past the room reserved per cell)
    got = render_rows(b"[", (b"", b""), [[long_text] * 3000], 3000, b",", b"]")
    assert bytes(got) == b"[" + b",".join([b'"' + long_text.encode() + b'"'] * 3000) + b"]"

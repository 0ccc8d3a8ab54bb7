"""jem._core.records against its plain-Python oracle (tests/oracle/records_ref.py): parsing
SWF-like text (comments, blank lines, signs, fractions) and formatting the CSV rows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem._core.records import format_records, parse_records
from tests.oracle import records_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=200, deadline=None)
NUMBER = st.one_of(st.integers(-10**12, 10**12).map(str),
                   st.tuples(st.integers(-999, 999), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]}"))


@st.composite
def texts(draw):
    """Lines of 3-6 numbers, with blank lines, ';' comments and odd spacing between them."""
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["record", "record", "record", "blank", "comment"]))
        if kind == "record":
            gap = draw(st.sampled_from([" ", "  ", "\t", " \t "]))
            fields = draw(st.lists(NUMBER, min_size=3, max_size=6))
            tail = draw(st.sampled_from(["", " ", " ; note", "\r"]))
            lines.append(draw(st.sampled_from(["", "  "])) + gap.join(fields) + tail)
        else:
            lines.append("" if kind == "blank" else "; MaxProcs: 128")
    return "\n".join(lines).encode()


@PROPERTY_SETTINGS
@given(texts(), st.sampled_from([(0,), (2, 0), (1, 2)]), st.one_of(st.none(), st.integers(0, 5)))
def test_parse_agrees_with_oracle(text, usecols, limit):
    got = parse_records(text, usecols, limit=limit)
    assert got.dtype == np.int64 and got.shape[1] == len(usecols)
    assert got.tolist() == records_ref.parse_records(text, usecols, limit=limit)


@pytest.mark.parametrize("text", [b"1 2 x\n", b"1 2\n", b"1 2 3-\n", b"1 2 .\n"])
def test_malformed_records_are_refused_with_their_line(text):
    with pytest.raises(ValueError, match="line 1"):
        parse_records(text, (0, 2))


@PROPERTY_SETTINGS
@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1), min_size=3, max_size=3), max_size=20))
def test_format_agrees_with_oracle(rows):
    values = np.array(rows, dtype=np.int64).reshape(len(rows), 3)
    assert format_records(values) == records_ref.format_records(rows)

"""The Ion -> JSON projection rules (docs/ion-json-projection.md), one test per rule."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from hypothesis import given
from hypothesis import strategies as st

from firehose_transform.normalise import (
    MAX_SAFE_INT,
    ion_to_ion_text,
    ion_to_json,
    ion_to_json_text,
    rows_to_json_lines,
    timestamp_to_iso,
    timestamp_to_utc_iso,
    to_json_text,
)
from firehose_transform.schema import build_row


def project(text: str) -> Any:
    return ion_to_json(simpleion.loads(text))


@pytest.mark.parametrize(
    ("ion", "expected"),
    [
        ("90.25", "90.25"),
        ("9.0", "9.0"),
        ("9.", "9"),
        ("1.50", "1.50"),
        ("-0.0", "-0.0"),
        ("0.000001", "0.000001"),
        ("1.2d30", "1.2E+30"),
        ("123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"),
    ],
)
def test_decimal_is_an_exact_string(ion: str, expected: str) -> None:
    assert project(ion) == expected
    assert Decimal(project(ion)) == Decimal(ion.replace("d", "e"))


@pytest.mark.parametrize(
    ("ion", "expected"),
    [
        ("0", 0),
        ("-42", -42),
        (str(MAX_SAFE_INT), MAX_SAFE_INT),
        (str(-MAX_SAFE_INT), -MAX_SAFE_INT),
        (str(MAX_SAFE_INT + 1), str(MAX_SAFE_INT + 1)),
        ("-123456789012345678901234567890", "-123456789012345678901234567890"),
    ],
)
def test_int_is_a_number_within_2_53_else_a_string(ion: str, expected: int | str) -> None:
    assert project(ion) == expected
    assert type(project(ion)) is type(expected) or isinstance(project(ion), type(expected))


@pytest.mark.parametrize(
    ("ion", "expected"),
    [("1.5e0", 1.5), ("-0e0", -0.0), ("1e300", 1e300), ("nan", "nan"), ("+inf", "+inf"), ("-inf", "-inf")],
)
def test_float(ion: str, expected: float | str) -> None:
    assert project(ion) == expected
    json.loads(ion_to_json_text(simpleion.loads(ion)))  # always valid JSON (no NaN literal)


@pytest.mark.parametrize(
    ("ion", "expected"),
    [
        ("2007T", "2007"),
        ("2007-02T", "2007-02"),
        ("1963-08-19T", "1963-08-19"),
        ("2019-12-11T07:20Z", "2019-12-11T07:20Z"),
        ("2019-12-11T07:20:51Z", "2019-12-11T07:20:51Z"),
        ("2019-12-11T07:20:51.245Z", "2019-12-11T07:20:51.245Z"),
        ("2019-12-11T07:20:51.2450Z", "2019-12-11T07:20:51.2450Z"),
        ("2019-12-11T07:20:51.000Z", "2019-12-11T07:20:51.000Z"),
        ("2019-12-11T07:20:51.1234567Z", "2019-12-11T07:20:51.1234567Z"),
        ("2019-12-11T08:20:51.245+01:00", "2019-12-11T08:20:51.245+01:00"),
        ("2019-12-11T02:20:51-05:30", "2019-12-11T02:20:51-05:30"),
        ("2019-12-11T07:20:51.245-00:00", "2019-12-11T07:20:51.245-00:00"),
    ],
)
def test_timestamp_keeps_precision_and_offset(ion: str, expected: str) -> None:
    assert project(ion) == expected


def test_utc_column_form_is_milliseconds_z() -> None:
    assert (
        timestamp_to_utc_iso(simpleion.loads("2019-12-11T08:20:51.2459+01:00")) == "2019-12-11T07:20:51.245Z"
    )
    assert timestamp_to_utc_iso(simpleion.loads("2019-12-11T07:20:51-00:00")) == "2019-12-11T07:20:51.000Z"
    assert timestamp_to_utc_iso(simpleion.loads("1963-08-19T")) == "1963-08-19T00:00:00.000Z"


@pytest.mark.parametrize("ion", ["{{aGVsbG8=}}", '{{"hello"}}'])
def test_blob_and_clob_are_base64(ion: str) -> None:
    assert project(ion) == "aGVsbG8="


@pytest.mark.parametrize(
    "ion", ["null", "null.null", "null.bool", "null.int", "null.decimal", "null.timestamp", "null.string",
            "null.symbol", "null.blob", "null.clob", "null.list", "null.sexp", "null.struct", "a::null.int"],
)  # fmt: skip
def test_every_typed_null_is_json_null(ion: str) -> None:
    assert project(ion) is None


def test_symbols_strings_bools() -> None:
    assert project("sym") == "sym"
    assert project("'quoted symbol'") == "quoted symbol"
    assert project("$0") is None
    assert project('"text"') == "text"
    assert project("true") is True
    assert project("false") is False
    assert ion_to_json_text(simpleion.loads("[true, false]")) == "[true,false]"


def test_annotations_are_dropped_in_json_and_kept_in_ion_text() -> None:
    value = simpleion.loads("usd::{amount: money::12.50, tags: [a::b::x]}")
    assert ion_to_json(value) == {"amount": "12.50", "tags": ["x"]}
    text = ion_to_ion_text(value)
    assert text.startswith("usd::")
    assert "money::12.50" in text
    assert "a::b::x" in text


def test_sexp_nested_and_repeated_fields() -> None:
    assert project("(a 1 (b 2.0))") == ["a", 1, ["b", "2.0"]]
    assert project("{a: 1, a: 2}") == {"a": 2}  # last value wins, as JSON parsers do
    assert project("{$0: 1}") == {"$0": 1}
    assert project("{a: {b: [{c: 2019-12-11T}]}}") == {"a": {"b": [{"c": "2019-12-11"}]}}


def test_plain_python_values_project_too() -> None:
    assert ion_to_json({"a": [1, 2.5, Decimal("1.0"), b"hi", None, True]}) == {
        "a": [1, 2.5, "1.0", "aGk=", None, True]
    }
    with pytest.raises(TypeError):
        ion_to_json(object())


def test_ion_text_is_lossless() -> None:
    text = "a::{n: 9.0, m: 9., t: 1963-08-19T, u: 2019-12-11T07:20:51.2450+01:00, s: sym, d: 1, d: 2}"
    value = simpleion.loads(text)
    again = simpleion.loads(ion_to_ion_text(value))
    assert simpleion.dumps(again, binary=True) == simpleion.dumps(value, binary=True)


def test_timestamp_to_iso_of_a_plain_datetime() -> None:
    import datetime as dt

    assert timestamp_to_iso(dt.datetime(2019, 12, 11, 7, 20, 51, 245000, tzinfo=dt.UTC)) == (
        "2019-12-11T07:20:51.245000Z"
    )


ion_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.binary(max_size=20),
)
ion_values = st.recursive(
    ion_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(ion_values)
def test_projection_is_always_valid_i_json(value: Any) -> None:
    ion = simpleion.loads(simpleion.dumps(value, binary=True))
    text = ion_to_json_text(ion)
    assert text == to_json_text(ion_to_json(ion))  # orjson's text is the standard encoder's
    parsed = json.loads(text)
    assert parsed == json.loads(json.dumps(ion_to_json(ion), allow_nan=False))
    for number in _numbers(parsed):
        if isinstance(number, int):
            assert abs(number) <= MAX_SAFE_INT
        else:
            assert math.isfinite(number)


def _numbers(value: Any) -> list[int | float]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [n for item in items for n in _numbers(item)]


def test_json_text_of_every_code_point_and_float_is_the_standard_encoders() -> None:
    # GIVEN every Unicode scalar value in strings and field names, and floats of every magnitude
    chars = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    floats = [1.5, -0.0, 1e-05, 1e16, 1e300, 5e-324, 123456789012345680000.0, 0.1]
    for value in (
        {"s": chars, chars[:4000]: 1},
        [chars[i : i + 64] for i in range(0, len(chars), 64)],
        floats,
        {"n": floats, "x": [1, None, True]},
    ):
        ion = simpleion.loads(simpleion.dumps(value, binary=True))
        # THEN the text is the standard encoder's of the same projection
        assert ion_to_json_text(ion) == to_json_text(ion_to_json(ion))
    assert ion_to_json_text(simpleion.loads("[1e-5, 1e16]")) == "[1e-05,1e+16]"
    # and rows (orjson too) are the standard encoder's text of each row, one per line
    rows = [build_row({"data_json": chars, "entries_hash_list": [chars[:99]], "version": 2**53})]
    assert rows_to_json_lines(rows) == (to_json_text(rows[0]) + "\n").encode("utf-8")

"""Values the simulator builds are indistinguishable from values `simpleion.loads` returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from amazon.ion import simpleion
from amazon.ion.core import IonType, TimestampPrecision
from amazon.ion.simple_types import IonPyDict
from hypothesis import given
from hypothesis import strategies as st

from journal.ion_build import (
    datetime_to_ms,
    ion_blob,
    ion_day,
    ion_decimal,
    ion_int,
    ion_list,
    ion_null,
    ion_string,
    ion_struct,
    ion_symbol,
    ion_timestamp,
    ion_timestamp_ms,
    ms_to_datetime,
)
from journal.ion_hash import ion_hash

if TYPE_CHECKING:
    from journal.ion_values import IonValue


def assert_like_parsed(value: IonValue) -> None:
    binary = simpleion.dumps(value, binary=True)
    parsed = simpleion.loads(binary)
    assert type(parsed) is type(value)
    assert parsed.ion_type is value.ion_type
    assert simpleion.dumps(parsed, binary=True) == binary
    assert ion_hash(parsed) == ion_hash(value)
    text = simpleion.dumps(value, binary=False, omit_version_marker=True)
    assert ion_hash(simpleion.loads(text)) == ion_hash(value)


def test_every_builder_gives_a_parsed_like_value() -> None:
    pacific = dt.timezone(dt.timedelta(hours=-7))
    values = [
        ion_string("Raul"),
        ion_symbol("Driver License"),
        ion_int(2011),
        ion_decimal("90.25"),
        ion_decimal("9.0"),
        ion_decimal("9"),
        ion_decimal(Decimal("1.5E+2")),
        ion_blob(bytes(range(32))),
        ion_null(),
        ion_null(IonType.STRING),
        ion_null(IonType.TIMESTAMP),
        ion_day(1963, 8, 19),
        ion_timestamp_ms(1576048851261),
        ion_timestamp(dt.datetime(2020, 5, 11, tzinfo=pacific), precision=TimestampPrecision.MINUTE),
        ion_timestamp(dt.datetime(2020, 5, 1), precision=TimestampPrecision.MONTH),
        ion_timestamp(
            dt.datetime(2020, 5, 11, 23, 59, 59, 999000, tzinfo=dt.UTC),
            precision=TimestampPrecision.SECOND,
            fractional_digits=3,
        ),
        ion_list([ion_struct({"PersonId": ion_string("x")})]),
        ion_list([]),
        ion_struct({}),
    ]
    for value in values:
        assert_like_parsed(value)
    assert_like_parsed(ion_struct({str(i): v for i, v in enumerate(values)}))


def test_structs_behave_like_parsed_structs() -> None:
    built = ion_struct({"a": ion_int(1), "b": ion_string("x")})
    parsed = simpleion.loads('{a: 1, b: "x"}')
    assert isinstance(built, IonPyDict)
    assert built == parsed
    assert list(built.items()) == list(parsed.items())
    assert built.get("missing") is None
    assert built.ion_annotations == ()


def test_timestamp_text_keeps_the_precision() -> None:
    def text(v: IonValue) -> str:
        return str(simpleion.dumps(v, binary=False, omit_version_marker=True))

    assert text(ion_timestamp_ms(1576048851261)) == "2019-12-11T07:20:51.261Z"
    assert text(ion_timestamp_ms(1576048851000)) == "2019-12-11T07:20:51.000Z"
    assert text(ion_day(1963, 8, 19)) == "1963-08-19"


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_millisecond_timestamps_round_trip(epoch_ms: int) -> None:
    value = ion_timestamp_ms(epoch_ms)
    assert datetime_to_ms(ms_to_datetime(epoch_ms)) == epoch_ms
    assert datetime_to_ms(value) == epoch_ms
    assert_like_parsed(value)


# amazon-ion 0.15's C reader keeps at most 34 significant digits (journal/ion_hash.py says more);
# the simulator's decimals are money-like and far shorter.
@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: len(d.as_tuple().digits) <= 34
    )
)
def test_decimals_keep_their_exponent(number: Decimal) -> None:
    value = ion_decimal(number)
    assert value.as_tuple() == number.as_tuple()
    assert_like_parsed(value)

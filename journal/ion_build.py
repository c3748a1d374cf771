"""Build Ion values exactly as `simpleion.loads` would return them (`IonPy*` objects).

The simulator never round-trips through Ion bytes to obtain typed values: it builds them
directly, which is several times faster than dumping and loading. The values must be
indistinguishable from parsed ones, because `journal.ion_hash` hashes them by Ion type and
precision (a decimal `9.0` is not `9`, a day-precision timestamp is not a second-precision one).
`tests/unit/journal/test_simulate_ion.py` checks that dumping and re-loading changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from amazon.ion.core import IonType, TimestampPrecision
from amazon.ion.simple_types import (
    IonPyBytes,
    IonPyDecimal,
    IonPyDict,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPySymbol,
    IonPyText,
    IonPyTimestamp,
)

if TYPE_CHECKING:
    from journal.ion_values import IonValue

__all__ = [
    "datetime_to_ms",
    "ion_blob",
    "ion_day",
    "ion_decimal",
    "ion_int",
    "ion_list",
    "ion_null",
    "ion_string",
    "ion_struct",
    "ion_symbol",
    "ion_timestamp",
    "ion_timestamp_ms",
    "ms_to_datetime",
]

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


def ion_string(text: str) -> IonValue:
    """An Ion string."""
    return IonPyText(text)


def ion_symbol(text: str) -> IonValue:
    """An Ion symbol (as parsed from text: no symbol id)."""
    return IonPySymbol(text, None, None)


def ion_int(value: int) -> IonValue:
    """An Ion int."""
    return IonPyInt(value)


def ion_decimal(text: str | Decimal) -> IonValue:
    """An Ion decimal keeping its exact coefficient and exponent (`"9.0"` is not `"9"`)."""
    return IonPyDecimal(text)


def ion_blob(data: bytes) -> IonValue:
    """An Ion blob (hashes in QLDB records are blobs)."""
    value = IonPyBytes(data)
    value.ion_type = IonType.BLOB
    return value


def ion_null(ion_type: IonType = IonType.NULL) -> IonValue:
    """`null` or a typed null such as `null.string`."""
    return IonPyNull(ion_type)


def _fast_struct(fields: Mapping[str, IonValue]) -> IonValue:
    value = _new_dict(IonPyDict)
    value.ion_annotations = ()
    setattr(value, _STORE, {name: [v] for name, v in fields.items()})
    return value


def _plain_struct(fields: Mapping[str, IonValue]) -> IonValue:
    return IonPyDict(fields)


_new_dict = IonPyDict.__new__
_STORE = "_IonPyDict__store"  # IonPyDict's {name: [values]} multimap
_struct = _fast_struct if hasattr(IonPyDict(), _STORE) else _plain_struct


def ion_struct(fields: Mapping[str, IonValue]) -> IonValue:
    """An Ion struct with fields in the given order (order changes bytes, never hashes).

    Built straight into `IonPyDict`'s store when this amazon-ion version has one (its own
    constructor copies field by field through `setdefault`, a third of the simulator's time);
    the result is the same object `IonPyDict(fields)` gives.
    """
    return _struct(fields)


def ion_list(items: Iterable[IonValue]) -> IonValue:
    """An Ion list."""
    value = IonPyList(items)
    value.ion_type = IonType.LIST
    return value


def ion_timestamp_ms(epoch_ms: int) -> IonValue:
    """A UTC timestamp with millisecond precision, as QLDB writes `txTime` and `blockTimestamp`.

    >>> from amazon.ion import simpleion
    >>> simpleion.dumps(ion_timestamp_ms(1576048851261), binary=False, omit_version_marker=True)
    '2019-12-11T07:20:51.261Z'
    """
    d = ms_to_datetime(epoch_ms)
    return IonPyTimestamp(
        d.year,
        d.month,
        d.day,
        d.hour,
        d.minute,
        d.second,
        d.microsecond,
        _UTC,
        precision=TimestampPrecision.SECOND,
        fractional_precision=3,
    )


def ion_day(year: int, month: int, day: int) -> IonValue:
    """A day-precision timestamp with unknown offset, such as `1963-08-19T`."""
    return IonPyTimestamp(year, month, day, precision=TimestampPrecision.DAY)


def ion_timestamp(
    when: dt.datetime, *, precision: TimestampPrecision, fractional_digits: int = 0
) -> IonValue:
    """A timestamp of any precision; `when` must be aware for minute precision and finer.

    Args:
        when: the instant; its offset is kept (`-07:00` stays `-07:00`).
        precision: YEAR, MONTH, DAY, MINUTE or SECOND.
        fractional_digits: digits of fractional seconds (0-6) when precision is SECOND.
    """
    if precision < TimestampPrecision.MINUTE:
        return IonPyTimestamp(when.year, when.month, when.day, precision=precision)
    if precision == TimestampPrecision.MINUTE:
        return IonPyTimestamp(
            when.year, when.month, when.day, when.hour, when.minute, tzinfo=when.tzinfo, precision=precision
        )
    micro = when.microsecond - when.microsecond % (10 ** (6 - fractional_digits))
    return IonPyTimestamp(
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
        micro,
        when.tzinfo,
        precision=precision,
        fractional_precision=fractional_digits,
    )


def datetime_to_ms(when: dt.datetime) -> int:
    """An aware datetime as milliseconds since the epoch (exact, no float rounding)."""
    return (when - _EPOCH) // dt.timedelta(milliseconds=1)


def ms_to_datetime(epoch_ms: int) -> dt.datetime:
    """Milliseconds since the epoch as an aware UTC datetime (exact, no float rounding)."""
    return _EPOCH + dt.timedelta(milliseconds=epoch_ms)

"""Ion Hash of parsed Ion values: the `H(v)` behind every QLDB revision, entry and statement hash.

Implements the Amazon Ion Hash specification (https://amazon-ion.github.io/ion-hash/docs/spec.html)
directly on the `IonPy*` objects of amazon-ion 0.15, because the reference `ionhash` package does
not import with amazon-ion >= 0.12. In the spec's notation, with B = 0x0B, E = 0x0E and escape()
prefixing every 0x0B, 0x0C and 0x0E byte with 0x0C:

- ``H(v) = h(s(v))``;
- ``s(scalar) = B || TQ || escape(representation) || E``, the representation being the body of the
  value's Ion binary encoding (so decimal ``9.0`` and ``9.``, or a timestamp's precision and offset,
  hash differently);
- ``s(list) = B || TQ || s(child1) || ... || E`` (sexps likewise);
- ``s(struct) = B || TQ || escape(sorted(h(s(name1) || s(value1)), ...)) || E``, so field order
  does not matter but duplicate fields do;
- ``s(annotated) = B || 0xE0 || s(annotation1) || ... || s(value) || E``.

Every `s(...)` is built as one byte string and hashed in one call (per struct field, and once at
the top), which is what makes this several times faster than streaming `update()` calls.

The trap is upstream: the hash is of the value as parsed, and amazon-ion 0.15's C extension
rounds away trailing zeros of decimals beyond 34 digits and fractional seconds beyond 9 digits
(or fails on them). Values that long only hash right when read with ``simpleion.c_ext = False``.

>>> from amazon.ion import simpleion
>>> ion_hash(simpleion.loads("9.0")) == ion_hash(simpleion.loads("9."))
False
>>> ion_hash(simpleion.loads("{a:1, b:2}")) == ion_hash(simpleion.loads("{b:2, a:1}"))
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from collections.abc import Callable, Iterable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context
from typing import Protocol

from amazon.ion.core import IonType, TimestampPrecision
from amazon.ion.simple_types import (
    IonPyBool,
    IonPyBytes,
    IonPyDecimal,
    IonPyDict,
    IonPyFloat,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPyStdDict,
    IonPySymbol,
    IonPyText,
    IonPyTimestamp,
)

from journal.errors import IonHashError
from journal.ion_values import IonValue

__all__ = ["HashObject", "HashProvider", "IonHasher", "ion_hash", "ion_hash_with", "make_ion_hasher"]


class HashObject(Protocol):
    """The result of a `HashProvider`: what `hashlib.sha256(data)` returns."""

    def digest(self) -> bytes:
        """The digest of the bytes the object was created with."""
        ...


class HashProvider(Protocol):
    """A hash function in `hashlib`'s constructor form: `provider(data).digest()`.

    `hashlib.sha256` and `hashlib.md5` are providers. The Ion Hash algorithm calls it once per
    struct field and once for the whole value, always with the complete input, so a provider
    never sees `update()` calls.
    """

    def __call__(self, data: bytes, /) -> HashObject:
        """A hash object over `data`."""
        ...


IonHasher = Callable[[IonValue], bytes]
"""A function from a parsed Ion value to its Ion Hash (see `make_ion_hasher`)."""

_STRUCT_STORE = "_IonPyDict__store"  # IonPyDict's multimap {name: [values]}: read directly for speed
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # scaleb without rounding
_NAN = b"\x7f\xf8\x00\x00\x00\x00\x00\x00"  # the spec's canonical NaN
_PACK_DOUBLE = struct.Struct(">d").pack

_NULL_BYTES = {  # s(null.<type>): the type's TQ with low nibble F, no representation
    IonType.NULL: b"\x0b\x0f\x0e",
    IonType.BOOL: b"\x0b\x1f\x0e",
    IonType.INT: b"\x0b\x2f\x0e",
    IonType.FLOAT: b"\x0b\x4f\x0e",
    IonType.DECIMAL: b"\x0b\x5f\x0e",
    IonType.TIMESTAMP: b"\x0b\x6f\x0e",
    IonType.SYMBOL: b"\x0b\x7f\x0e",
    IonType.STRING: b"\x0b\x8f\x0e",
    IonType.CLOB: b"\x0b\x9f\x0e",
    IonType.BLOB: b"\x0b\xaf\x0e",
    IonType.LIST: b"\x0b\xbf\x0e",
    IonType.SEXP: b"\x0b\xcf\x0e",
    IonType.STRUCT: b"\x0b\xdf\x0e",
}
_SYMBOL_SID0 = b"\x0b\x71\x0e"  # symbol zero ($0) has no text: TQ 0x71, no representation
_VARUINT_1 = [bytes((0x80 | i,)) for i in range(128)]  # one-byte VarUInts (month ... second)
_VARINT_1 = {i: bytes((0x80 | i,)) for i in range(64)} | {-i: bytes((0xC0 | i,)) for i in range(1, 64)}
_YEAR, _MONTH, _DAY = TimestampPrecision.YEAR, TimestampPrecision.MONTH, TimestampPrecision.DAY
_MINUTE, _SECOND = TimestampPrecision.MINUTE, TimestampPrecision.SECOND
_UTC = dt.UTC
_STRING = IonType.STRING
_TENS = [10**i for i in range(7)]


def _escape(data: bytes) -> bytes:
    """Prefix every 0x0B, 0x0C and 0x0E byte with 0x0C, so that markers cannot occur inside."""
    return data.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")


def _varuint(n: int) -> bytes:
    """Ion VarUInt: 7 bits a byte, most significant first, the last byte flagged with 0x80."""
    if n < 128:
        return _VARUINT_1[n]
    out = bytearray((0x80 | (n & 0x7F),))
    n >>= 7
    while n:
        out.append(n & 0x7F)
        n >>= 7
    out.reverse()
    return bytes(out)


def _varint(n: int) -> bytes:
    """Ion VarInt: like VarUInt, with a sign bit (0x40) in the first byte."""
    small = _VARINT_1.get(n)
    if small is not None:
        return small
    m = -n if n < 0 else n
    out = bytearray((0x80 | (m & 0x7F),))
    m >>= 7
    while m:
        out.append(m & 0x7F)
        m >>= 7
    out.reverse()
    if out[0] & 0x40:  # no room for the sign bit in the first byte
        out.insert(0, 0)
    if n < 0:
        out[0] |= 0x40
    return bytes(out)


def _int_field(magnitude: int, negative: int) -> bytes:
    """Ion Int (sign-and-magnitude, big-endian): a decimal's coefficient."""
    size = (magnitude.bit_length() >> 3) + 1  # always leaves the top bit free for the sign
    return (magnitude | (negative << (size * 8 - 1))).to_bytes(size, "big")


def _decimal_body(exponent: int, coefficient: int, negative: int) -> bytes:
    """Ion decimal body: VarInt exponent, then the Int coefficient (omitted when it is +0)."""
    if coefficient:
        return _varint(exponent) + _int_field(coefficient, negative)
    return _varint(exponent) + (b"\x80" if negative else b"")


_COEFFICIENTS = [b""] + [_int_field(i, 0) for i in range(1, 1024)]  # +0 is omitted

_symbol_cache: dict[str, bytes] = {}
_SYMBOL_CACHE_MAX = 4096


def _symbol_bytes(text: str) -> bytes:
    """s(symbol) for a symbol's text: field names, annotations and symbol values.

    A pure function of the text, cached in a bounded dict because field names repeat in every
    revision (the cache holds no values, only names).
    """
    s = _symbol_cache.get(text)
    if s is None:
        s = b"\x0b\x70" + _escape(text.encode("utf-8")) + b"\x0e"
        if len(_symbol_cache) >= _SYMBOL_CACHE_MAX:
            _symbol_cache.clear()
        _symbol_cache[text] = s
    return s


def _token_bytes(token: object) -> bytes:
    """s(symbol) for a symbol token (annotation, field name or symbol value) or plain text."""
    if type(token) is str:
        return _symbol_bytes(token)
    if token is None:
        return _SYMBOL_SID0  # IonPyDict stores the field name $0 as None
    text = getattr(token, "text", None)
    if text is not None:
        return _symbol_bytes(text)
    sid = getattr(token, "sid", None)
    if sid == 0:
        return _SYMBOL_SID0
    raise _UnhashableError(f"symbol ${sid} has no text; read it with the catalog of its shared symbol table")


class _UnhashableError(Exception):
    """Raised inside the walk; `ion_hash` turns it into an `IonHashError` naming the path."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def _s_null(v: IonValue) -> bytes:
    return _NULL_BYTES[v.ion_type]


def _s_bool(v: IonValue) -> bytes:
    return b"\x0b\x11\x0e" if v else b"\x0b\x10\x0e"


def _s_int(v: IonValue) -> bytes:
    s = _int_cache.get(v)
    if s is not None:
        return s
    m = -v if v < 0 else v  # UInt magnitude; the sign is in the TQ (0x20 / 0x30), 0 is empty
    body: bytes = m.to_bytes((m.bit_length() + 7) >> 3, "big")
    body = body.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
    return (b"\x0b\x30" if v < 0 else b"\x0b\x20") + body + b"\x0e"


_int_cache: dict[int, bytes] = {}
_int_cache.update((i, _s_int(i)) for i in range(-256, 1024))


def _s_float(v: IonValue) -> bytes:
    if v == 0.0 and math.copysign(1.0, v) > 0:
        return b"\x0b\x40\x0e"  # positive zero has an empty representation, unlike -0e0
    return b"\x0b\x40" + _escape(_NAN if v != v else _PACK_DOUBLE(v)) + b"\x0e"


def _s_decimal(v: IonValue) -> bytes:
    text = str(v)  # "90.25", "-0.00", "12345": exponent and coefficient without as_tuple()
    if "E" in text or not v.is_finite():
        return _s_decimal_exponent(v)
    point = text.find(".")
    if point < 0:
        exponent = 0
        coefficient = int(text)
    else:
        exponent = point + 1 - len(text)
        coefficient = int(text.replace(".", ""))
    if coefficient > 0:
        body = (_VARINT_1.get(exponent) or _varint(exponent)) + (
            _COEFFICIENTS[coefficient] if coefficient < 1024 else _int_field(coefficient, 0)
        )
    elif coefficient or v.is_signed():  # negative, or -0 (whose coefficient field is 0x80)
        body = _decimal_body(exponent, -coefficient, 1)
    elif exponent:
        body = _VARINT_1.get(exponent) or _varint(exponent)  # 0d-2: +0 coefficient omitted
    else:
        return b"\x0b\x50\x0e"  # 0d0 has an empty representation
    body = body.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
    return b"\x0b\x50" + body + b"\x0e"


def _s_decimal_exponent(v: IonValue) -> bytes:
    """Decimals that print in exponent form (5d300, 1E-7), and non-Ion ones (NaN, Infinity)."""
    negative, _, exponent = v.as_tuple()
    if type(exponent) is not int:
        raise _UnhashableError(f"decimal {v} is not an Ion decimal")
    coefficient = abs(int(v.scaleb(-exponent, _EXACT)))
    if not coefficient and not exponent and not negative:
        return b"\x0b\x50\x0e"
    return b"\x0b\x50" + _escape(_decimal_body(exponent, coefficient, negative)) + b"\x0e"


_date_cache: dict[int, bytes] = {}  # date ordinal -> VarUInt year, month, day (a pure function)
_DATE_CACHE_MAX = 20_000
_PACK_HMS = struct.Struct("BBB").pack


def _date_fields(t: dt.datetime) -> bytes:
    """Year, month and day VarUInts; cached by date because revisions share few dates."""
    ordinal = t.toordinal()
    s = _date_cache.get(ordinal)
    if s is None:
        if len(_date_cache) >= _DATE_CACHE_MAX:
            _date_cache.clear()
        s = _date_cache[ordinal] = _varuint(t.year) + bytes((0x80 | t.month, 0x80 | t.day))
    return s


def _s_timestamp(v: IonValue) -> bytes:
    tz = v.tzinfo
    if tz is None:
        offset_field = b"\xc0"  # -0: unknown local offset
        t = v
    elif tz is _UTC:
        offset_field = b"\x80"
        t = v
    else:
        offset = v.utcoffset()
        if offset:  # the fields are written in UTC, after the offset
            t = dt.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second) - offset
            offset_field = _varint(int(offset.total_seconds()) // 60)
        else:
            t = v
            offset_field = b"\x80"
    precision = v.precision
    if precision is _SECOND or precision is None:
        digits = v.fractional_precision
        fraction = v.fractional_seconds
        if digits == 0 and fraction is not None and not fraction:
            fraction_field = b""  # whole seconds
        elif fraction is not None and digits is not None and 0 < digits < 6 and not fraction.is_signed():
            coefficient: int = v.microsecond // _TENS[6 - digits]
            fraction_field = _VARINT_1[-digits] + (
                _COEFFICIENTS[coefficient] if coefficient < 1024 else _int_field(coefficient, 0)
            )
        else:
            fraction_field = _fraction(v)
        body = (
            offset_field
            + _date_fields(t)
            + _PACK_HMS(0x80 | t.hour, 0x80 | t.minute, 0x80 | t.second)
            + fraction_field
        )
    elif precision is _DAY:
        body = offset_field + _date_fields(t)
    elif precision is _MINUTE:
        body = offset_field + _date_fields(t) + bytes((0x80 | t.hour, 0x80 | t.minute))
    elif precision is _MONTH:
        body = offset_field + _varuint(t.year) + _VARUINT_1[t.month]
    elif precision is _YEAR:
        body = offset_field + _varuint(t.year)
    else:
        raise _UnhashableError(f"timestamp precision {precision!r} is not a TimestampPrecision")
    body = body.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
    return b"\x0b\x60" + body + b"\x0e"


def _fraction(v: IonValue) -> bytes:
    """A timestamp's fractional seconds: a decimal, omitted when zero with no digits (0d0, 0d1).

    The general case; `_s_timestamp` handles whole seconds and up to five digits (QLDB's
    milliseconds) itself, from `fractional_precision` and `microsecond`: amazon-ion keeps
    `fractional_precision` = min(digits, 6) and the first six digits in `microsecond`.
    """
    digits = v.fractional_precision
    fraction = v.fractional_seconds
    if fraction is None:  # a Timestamp built without one: derive it from the microseconds
        if digits is None:
            digits = 6 if v.microsecond else 0
        if not digits:
            return b""
        return _decimal_body(-digits, v.microsecond // _TENS[6 - digits], 0)
    negative, _, exponent = fraction.as_tuple()
    if type(exponent) is not int or not 0 <= fraction < 1:
        raise _UnhashableError(f"timestamp fractional seconds {fraction} not in [0, 1)")
    if exponent >= 0:
        return b""
    return _decimal_body(exponent, int(fraction.scaleb(-exponent, _EXACT)), negative)


def _s_string(v: IonValue) -> bytes:
    if v.ion_type is not _STRING:  # IonPyText is also a symbol under IonPyValueModel.SYMBOL_AS_TEXT
        return _symbol_bytes(str(v))
    body: bytes = v.encode()
    body = body.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
    return b"\x0b\x80" + body + b"\x0e"


def _s_symbol(v: IonValue) -> bytes:
    text = v.text
    if text is not None:
        s = _symbol_cache.get(text)
        return s if s is not None else _symbol_bytes(text)
    return _token_bytes(v)


def _s_lob(v: IonValue) -> bytes:
    return (b"\x0b\xa0" if v.ion_type is IonType.BLOB else b"\x0b\x90") + _escape(bytes(v)) + b"\x0e"


_SCALARS: dict[type, Callable[[IonValue], bytes]] = {
    IonPyText: _s_string,
    IonPyInt: _s_int,
    IonPyTimestamp: _s_timestamp,
    IonPyDecimal: _s_decimal,
    IonPySymbol: _s_symbol,
    IonPyBool: _s_bool,
    IonPyFloat: _s_float,
    IonPyBytes: _s_lob,
    IonPyNull: _s_null,
}
_SCALARS_BY_ION_TYPE: dict[IonType, Callable[[IonValue], bytes]] = {
    IonType.BOOL: _s_bool,
    IonType.INT: _s_int,
    IonType.FLOAT: _s_float,
    IonType.DECIMAL: _s_decimal,
    IonType.TIMESTAMP: _s_timestamp,
    IonType.SYMBOL: _s_symbol,
    IonType.STRING: _s_string,
    IonType.CLOB: _s_lob,
    IonType.BLOB: _s_lob,
}


def make_ion_hasher(provider: HashProvider) -> IonHasher:
    """Build the Ion Hash function for a hash function (`hashlib.sha256`, `hashlib.md5`, ...).

    The walk is a set of closures over `provider` so that the SHA-256 instance pays no lookup
    for it; build a hasher once and reuse it.
    """
    names = _symbol_cache.get  # field names are symbols; see _symbol_bytes

    def s_value(v: IonValue) -> bytes:
        s = dispatch.get(type(v), s_other)(v)
        annotations = v.ion_annotations
        if annotations:
            return b"\x0b\xe0" + b"".join(map(_token_bytes, annotations)) + s + b"\x0e"
        return s

    def s_other(v: IonValue) -> bytes:
        """Dispatch on `ion_type` for values that are not exactly an `IonPy*` class."""
        t = getattr(v, "ion_type", None)
        if not isinstance(t, IonType) or not hasattr(v, "ion_annotations"):
            raise _UnhashableError(
                f"{type(v).__name__} is not a parsed Ion value; hash what amazon.ion.simpleion.loads"
                " returns with the default value_model (bare Python values lose Ion types)"
            )
        if isinstance(v, IonPyNull):
            return _s_null(v)
        if t is IonType.STRUCT:
            return s_struct(v.iteritems() if hasattr(v, "iteritems") else v.items())
        if t is IonType.LIST or t is IonType.SEXP:
            return s_list(v)
        serialize = _SCALARS_BY_ION_TYPE.get(t)
        if serialize is None:
            raise _UnhashableError(f"{type(v).__name__} claims Ion type {t.name}")
        return serialize(v)

    def s_multi_struct(v: IonValue) -> bytes:
        """An `IonPyDict`, read through its {name: [values]} store (the hot path)."""
        hashes: list[bytes] = []
        append = hashes.append
        name = ""
        try:
            for name, values in v._IonPyDict__store.items():
                s_name = names(name) or _token_bytes(name)
                for x in values:
                    if x.ion_annotations:
                        s = s_value(x)
                    elif type(x) is IonPyText and x.ion_type is _STRING:  # inlined: most fields are strings
                        s = x.encode()
                        s = (
                            b"\x0b\x80"
                            + s.replace(b"\x0c", b"\x0c\x0c")
                            .replace(b"\x0b", b"\x0c\x0b")
                            .replace(b"\x0e", b"\x0c\x0e")
                            + b"\x0e"
                        )
                    else:
                        s = dispatch.get(type(x), s_other)(x)
                    append(provider(s_name + s).digest())
        except _UnhashableError as exc:
            exc.path.append(f".{name}")
            raise
        if not hashes:
            return b"\x0b\xd0\x0e"
        hashes.sort()
        s = b"".join(hashes)
        return (
            b"\x0b\xd0"
            + s.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
            + b"\x0e"
        )

    def s_struct(fields: Iterable[tuple[object, IonValue]]) -> bytes:
        hashes = []
        name: object = ""
        try:
            for name, x in fields:
                hashes.append(provider(_token_bytes(name) + s_value(x)).digest())
        except _UnhashableError as exc:
            exc.path.append(f".{name}")
            raise
        hashes.sort()
        return b"\x0b\xd0" + _escape(b"".join(hashes)) + b"\x0e"

    def s_std_struct(v: IonValue) -> bytes:
        return s_struct(v.items())

    def s_list(v: IonValue) -> bytes:
        try:
            body = b"".join([s_value(x) for x in v])
        except _UnhashableError as exc:
            exc.path.append(f"[{_first_unhashable(v)}]")
            raise
        return (b"\x0b\xb0" if v.ion_type is IonType.LIST else b"\x0b\xc0") + body + b"\x0e"

    def _first_unhashable(v: IonValue) -> int:
        for i, x in enumerate(v):
            try:
                s_value(x)
            except _UnhashableError:
                return i
        return -1

    dispatch: dict[type, Callable[[IonValue], bytes]] = {
        **_SCALARS,
        IonPyDict: s_multi_struct if hasattr(IonPyDict(), _STRUCT_STORE) else s_other,
        IonPyList: s_list,
        IonPyStdDict: s_std_struct,
    }

    def hash_value(value: IonValue) -> bytes:
        try:
            return provider(s_value(value)).digest()
        except _UnhashableError as exc:
            where = f"value{''.join(reversed(exc.path))}" if exc.path else "value"
            raise IonHashError(f"cannot compute the Ion Hash of {where}: {exc.reason}") from None
        except (UnicodeEncodeError, OverflowError, ValueError, TypeError) as exc:  # malformed objects
            raise IonHashError(f"cannot compute the Ion Hash: {exc}") from exc

    return hash_value


_sha256_hasher = make_ion_hasher(hashlib.sha256)


def ion_hash(value: IonValue) -> bytes:
    """The SHA-256 Ion Hash (32 bytes) of a parsed Ion value: QLDB's `H(v)`.

    Hash the value as parsed: its Ion types and precision are part of the hash, so a value
    converted through JSON or Python natives does not hash the same.

    Raises:
        IonHashError: the value has no Ion Hash (a symbol without text, a non-Ion object, ...).

    >>> from amazon.ion import simpleion
    >>> ion_hash(simpleion.loads("null")).hex()[:16]
    '0fb06b6183c21379'
    """
    return _sha256_hasher(value)


def ion_hash_with(value: IonValue, provider: HashProvider) -> bytes:
    """The Ion Hash of `value` with another hash function (MD5, or an identity for the spec's tests).

    Builds the walk on each call; for many values keep `make_ion_hasher(provider)` instead.

    Raises:
        IonHashError: as `ion_hash`.
    """
    return make_ion_hasher(provider)(value)

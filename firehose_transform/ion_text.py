r"""Ion text of parsed Ion values, written in Python: the archive's lossless Ion text columns.

Why not `simpleion.dumps(value, binary=False)`: amazon-ion 0.15's C writer is the slowest step
of the transform. It costs ~20 us for one DMV revision struct and ~25 us for a block's
`transactionInfo` (as much as parsing the whole stream record), because it asks every value for
its Ion type and annotations through Python attribute lookups, turns each decimal and timestamp
into C structs, and builds an ion-c writer per call; bare values (MAY_BE_BARE, which the transform
parses) are its slow case. The text it produces is simple, so this module writes the same text
directly: about half the C writer's time on bare DMV records (on `IonPy*` values, the C writer's
fast case, it takes ~1.25x the C writer's time; the transform never writes those).
`benchmarks/bench_handler.py` prints the transform's throughput.

`ion_text_and_json` also writes the JSON projection of some fields during the same walk (a
revision's `data`, a block's statements and documents), so each string, timestamp and blob is
formatted once for both texts.

Byte for byte the C writer's text. The values the transform sees are handled here: bare values
(`IonPyValueModel.MAY_BE_BARE`: `str`, `int`, `bool`, `None`, `Decimal`, `Timestamp`, `bytes`,
`SymbolToken`, `list`) and `IonPy*` values (structs, strings, symbols, ints, bools, decimals,
timestamps, blobs, lists, untyped nulls, with their annotations). Everything else (floats, clobs,
sexps, typed nulls, symbols with no text, a struct field name with no text, plain `datetime`) is
handed to the C writer one value at a time, and its text spliced in. So the text reads back to
the same Ion values, types and precision included, and every hash recomputes from it; tests
compare it with the C writer's on the simulator's records and on generated values.

Rules, as amazon-ion's C writer applies them:

- a symbol (field name, annotation or value) is written bare when it is an identifier
  (``[A-Za-z_$][A-Za-z0-9_$]*``) other than ``null``, ``true``, ``false``, ``nan`` and a symbol id
  (``$7``), else in single quotes (``'b c'``, ``'$10'``, ``''``);
- strings in double quotes, escaping ``"``, ``\`` and control characters (``\n``, ``\x01``);
  other characters are written as they are (UTF-8);
- decimals as Python's ``str(Decimal)`` with ``E`` written ``d``, and ``d0`` after an integral
  coefficient so they do not read back as ints (``9.0``, ``1.2d+30``, ``5d0``, ``-0d0``);
- timestamps with their precision and offset (``2007T``, ``2007-02T``, ``1963-08-19``,
  ``2019-12-11T07:20Z``, ``2019-12-11T07:20:51.245Z``, ``...-00:00`` for an unknown offset);
- blobs as ``{{base64}}``; struct fields in the order `IonPyDict` keeps them (repeated names
  together, which Ion does not distinguish: struct fields are unordered).
"""

from __future__ import annotations

import binascii
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Final

from amazon.ion import simpleion
from amazon.ion.core import IonType, Timestamp, TimestampPrecision
from amazon.ion.simple_types import (
    IonPyBool,
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
from amazon.ion.symbols import SymbolToken

from journal.ion_values import get_field

if TYPE_CHECKING:
    from journal.ion_values import IonValue

__all__ = ["MAX_SAFE_INT", "ion_text_and_json", "ion_to_ion_text", "timestamp_to_ion_text"]

_UTC: Final = dt.UTC
_YEAR, _MONTH, _DAY = TimestampPrecision.YEAR, TimestampPrecision.MONTH, TimestampPrecision.DAY
_MINUTE, _SECOND = TimestampPrecision.MINUTE, TimestampPrecision.SECOND


# Timestamps -----------------------------------------------------------------------------------


def _offset(ts: dt.datetime) -> str:
    off = ts.utcoffset()
    if off is None:
        return "-00:00"  # Ion's unknown local offset: the time is UTC, the local offset unknown
    if not off:
        return "Z"
    minutes = int(off.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _fraction(ts: dt.datetime) -> str:
    digits = getattr(ts, "fractional_precision", None)
    if type(digits) is int and 0 < digits < 6:  # an Ion Timestamp whose `microsecond` is exact
        return f".{ts.microsecond:06d}"[: digits + 1]
    frac = getattr(ts, "fractional_seconds", None)
    if isinstance(frac, Decimal):
        exponent = frac.as_tuple().exponent
        digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return f".{int(frac.scaleb(digits)):0{digits}d}" if digits else ""
    precision = getattr(ts, "fractional_precision", None)
    if isinstance(precision, int):
        return f".{ts.microsecond:06d}"[: precision + 1] if precision > 0 else ""
    return f".{ts.microsecond:06d}" if ts.microsecond else ""


def timestamp_to_ion_text(ts: dt.datetime) -> str:
    """The Ion text of a timestamp: its precision, fractional digits and offset kept.

    A plain `datetime` (no Ion precision) is written to the second, with its microseconds when
    it has some, and ``-00:00`` when it is naive.

    >>> from amazon.ion import simpleion
    >>> texts = ("2007T", "2007-02T", "1963-08-19T", "2019-12-11T07:20:51.245Z", "2019-12-11T07:20:51-02:30")
    >>> [timestamp_to_ion_text(simpleion.loads(t)) for t in texts]
    ['2007T', '2007-02T', '1963-08-19', '2019-12-11T07:20:51.245Z', '2019-12-11T07:20:51-02:30']
    """
    if type(ts) is Timestamp:  # attributes read directly: a timestamp or two in every record
        ion_ts: Any = ts
        precision, digits = ion_ts.precision, ion_ts.fractional_precision
    else:
        precision, digits = getattr(ts, "precision", None), getattr(ts, "fractional_precision", None)
    if precision is _SECOND or precision is None:
        tz = ts.tzinfo
        if tz is _UTC and digits == 3:  # what QLDB writes: 3x faster
            return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - %-format is the fastest here
                ts.year,
                ts.month,
                ts.day,
                ts.hour,
                ts.minute,
                ts.second,
                ts.microsecond // 1000,
            )
        off = ts.utcoffset()
        if off is None or not off:  # UTC or the unknown offset
            return f"{ts.isoformat(timespec='seconds')[:19]}{_fraction(ts)}{'-00:00' if off is None else 'Z'}"
    year = f"{ts.year:04d}"
    if precision is _YEAR:
        return f"{year}T"
    if precision is _MONTH:
        return f"{year}-{ts.month:02d}T"
    date = f"{year}-{ts.month:02d}-{ts.day:02d}"
    if precision is _DAY:
        return date
    hm = f"{date}T{ts.hour:02d}:{ts.minute:02d}"
    if precision is _MINUTE:
        return hm + _offset(ts)
    return f"{hm}:{ts.second:02d}{_fraction(ts)}{_offset(ts)}"


# Text and symbols -----------------------------------------------------------------------------

_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SYMBOL_ID: Final = re.compile(r"\$[0-9]+")
_KEYWORDS: Final = frozenset({"null", "true", "false", "nan"})
_SHORT_ESCAPES: Final = {0: "\\0", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
_STRING_ESCAPES: Final[dict[int, str]] = {
    **{c: _SHORT_ESCAPES.get(c, f"\\x{c:02X}") for c in range(0x20)},
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}
_SYMBOL_ESCAPES: Final[dict[int, str]] = {
    **{c: e for c, e in _STRING_ESCAPES.items() if c != ord('"')},
    ord("'"): "\\'",
}
_MAX_CACHED: Final = 4096
_SYMBOLS: dict[str, str] = {}  # symbol text -> its Ion text; field names and symbols repeat
_FIELDS: dict[str, str] = {}  # field name -> "name:"


def _remember(cache: dict[str, str], key: str, text: str) -> str:
    if len(cache) < _MAX_CACHED:
        cache[key] = text
    return text


def _symbol(text: str) -> str:
    out = _SYMBOLS.get(text)
    if out is None:
        bare = _IDENTIFIER.fullmatch(text) and text not in _KEYWORDS and not _SYMBOL_ID.fullmatch(text)
        out = _remember(_SYMBOLS, text, text if bare else f"'{text.translate(_SYMBOL_ESCAPES)}'")
    return out


def _field(name: str) -> str:
    return _FIELDS.get(name) or _remember(_FIELDS, name, _symbol(name) + ":")


def _string(text: str) -> str:
    quoted: str = encode_basestring(text)  # JSON's C quoting: escapes exactly when Ion needs to
    return quoted if len(quoted) == len(text) + 2 else f'"{text.translate(_STRING_ESCAPES)}"'


def _decimal(value: Decimal) -> str:
    text = str(value)
    if "E" in text:
        return text.replace("E", "d")
    return text if "." in text else text + "d0"


def _blob(value: bytes) -> str:
    return "{{" + binascii.b2a_base64(value, newline=False).decode("ascii") + "}}"


# The writer -----------------------------------------------------------------------------------

_STORE: Final = "_IonPyDict__store"  # IonPyDict's {name: [values]}: read directly for speed
Writer = Callable[[Any, list[str]], None]


def _c_writer(value: IonValue, out: list[str]) -> None:
    """A value this module does not write itself: amazon-ion's C writer's text of it."""
    out.append(simpleion.dumps(value, binary=False, omit_version_marker=True))


def _struct(value: Any, out: list[str]) -> None:
    if value.ion_annotations:
        _ionpy(value, out)
    elif not _fields(value, out):
        _c_writer(value, out)


def _fields(value: Any, out: list[str]) -> bool:
    """Write a struct's ``{name:value,...}``, or nothing and False when the C writer must."""
    store = getattr(value, _STORE, None)
    if store is None:  # not an IonPyDict
        return False
    append = out.append
    start = len(out)
    append("{")
    sep = False
    for name, values in store.items():
        if type(name) is not str:  # a field name with no text ($0): the C writer says how
            del out[start:]
            return False
        field = _FIELDS.get(name) or _field(name)
        for x in values:
            if sep:
                append(",")
            sep = True
            append(field)
            t = type(x)  # the common cases inlined: one call less per field
            if t is str:
                append(_string(x))
            elif t is IonPyDict:
                _struct(x, out)
            elif t is int:
                append(str(x))
            elif t is Timestamp:
                append(timestamp_to_ion_text(x))
            elif t is bytes:
                append(_blob(x))
            else:
                _WRITERS.get(t, _c_writer)(x, out)
    append("}")
    return True


def _list(value: list[Any], out: list[str]) -> None:
    append = out.append
    append("[")
    sep = False
    for x in value:
        if sep:
            append(",")
        sep = True
        _WRITERS.get(type(x), _c_writer)(x, out)
    append("]")


def _ionpy(value: Any, out: list[str]) -> None:
    """An `IonPy*` value: its annotations, then its body by Ion type."""
    t = IonType.NULL if type(value) is IonPyNull else value.ion_type  # an IonPyNull's is its null's type
    annotations = value.ion_annotations
    for i, a in enumerate(annotations):
        text = a if type(a) is str else a.text
        if text is None:  # an annotation with no text ($0)
            del out[len(out) - i :]
            _c_writer(value, out)
            return
        out.append(_symbol(text) + "::")
    if t is IonType.STRUCT:
        if _fields(value, out):
            return
    elif t is IonType.STRING:
        out.append(_string(str(value)))
        return
    elif t is IonType.SYMBOL:
        text = getattr(value, "text", value)
        if text is not None:
            out.append(_symbol(str(text)))
            return
    elif t is IonType.INT:
        out.append(str(int(value)))
        return
    elif t is IonType.BOOL:
        out.append("true" if value else "false")
        return
    elif t is IonType.DECIMAL:
        out.append(_decimal(value))
        return
    elif t is IonType.TIMESTAMP:
        out.append(timestamp_to_ion_text(value))
        return
    elif t is IonType.BLOB:
        out.append(_blob(bytes(value)))
        return
    elif t is IonType.LIST:
        _list(value, out)
        return
    elif t is IonType.NULL:
        out.append(_NULLS[value.ion_type])
        return
    if annotations:  # the C writer writes them with the value
        del out[-len(annotations) :]
    _c_writer(value, out)


def _ionpy_text(value: Any, out: list[str]) -> None:
    if value.ion_annotations or value.ion_type is not IonType.STRING:
        _ionpy(value, out)
    else:
        out.append(_string(value))


def _ionpy_int(value: Any, out: list[str]) -> None:
    if value.ion_annotations:
        _ionpy(value, out)
    else:
        out.append(int.__repr__(value))


def _ionpy_timestamp(value: Any, out: list[str]) -> None:
    if value.ion_annotations:
        _ionpy(value, out)
    else:
        out.append(timestamp_to_ion_text(value))


def _ionpy_bytes(value: Any, out: list[str]) -> None:
    if value.ion_annotations or value.ion_type is not IonType.BLOB:
        _ionpy(value, out)
    else:
        out.append(_blob(value))


def _symbol_token(value: SymbolToken, out: list[str]) -> None:
    if value.text is None:
        _c_writer(value, out)
    else:
        out.append(_symbol(value.text))


_NULLS: Final = {t: "null" if t is IonType.NULL else f"null.{t.name.lower()}" for t in IonType}

_WRITERS: Final[dict[type, Writer]] = {
    str: lambda v, out: out.append(_string(v)),
    int: lambda v, out: out.append(str(v)),
    bool: lambda v, out: out.append("true" if v else "false"),
    type(None): lambda v, out: out.append("null"),
    Decimal: lambda v, out: out.append(_decimal(v)),
    Timestamp: lambda v, out: out.append(timestamp_to_ion_text(v)),
    bytes: lambda v, out: out.append(_blob(v)),
    SymbolToken: _symbol_token,
    list: _list,
    IonPyDict: _struct,
    IonPyText: _ionpy_text,
    IonPySymbol: _ionpy,
    IonPyInt: _ionpy_int,
    IonPyBool: _ionpy,
    IonPyDecimal: _ionpy,
    IonPyTimestamp: _ionpy_timestamp,
    IonPyBytes: _ionpy_bytes,
    IonPyList: _ionpy,
    IonPyNull: _ionpy,
}
"""Writers by exact class; a class not here (float, plain datetime, ...) goes to the C writer."""


def ion_to_ion_text(value: IonValue) -> str:
    """Lossless Ion text of a parsed value (types, precision, annotations, repeated fields kept).

    The same text as ``simpleion.dumps(value, binary=False, omit_version_marker=True)``, written
    faster (see the module docstring).

    >>> from amazon.ion import simpleion
    >>> ion_to_ion_text(simpleion.loads("a::{n: 9.0, t: 2019-12-11T07:20:51.245Z, s: 'b c'}"))
    "a::{n:9.0,t:2019-12-11T07:20:51.245Z,s:'b c'}"
    """
    out: list[str] = []
    _WRITERS.get(type(value), _c_writer)(value, out)
    return "".join(out)


# Ion text and JSON projection in one walk ------------------------------------------------------

MAX_SAFE_INT: Final = 2**53 - 1
"""Largest integer every JSON reader holds exactly (I-JSON, RFC 7493 section 2.2)."""

_JSON_KEYS: dict[str, str] = {}  # field name -> '"name":'
_NOT_PROJECTED: Final = object()


def _json_key(name: str) -> str:
    return _JSON_KEYS.get(name) or _remember(_JSON_KEYS, name, encode_basestring(name) + ":")


def _both(value: Any, ion: list[str], js: list[str], project: Callable[[Any], str]) -> None:
    """Write a value's Ion text to `ion` and its JSON projection to `js`.

    The projection of the common types is written here, by the rules of
    `firehose_transform.normalise` (tests compare with `ion_to_json_text`); any other value
    (floats, annotated or `IonPy*` scalars, clobs, sexps, typed nulls, symbols with no text) is
    written by `_WRITERS` and `project`.
    """
    t = type(value)
    if t is str:
        quoted = encode_basestring(value)
        ion.append(quoted if len(quoted) == len(value) + 2 else _string(value))
        js.append(quoted)
    elif t is IonPyDict and not value.ion_annotations:
        store = value._IonPyDict__store
        start_ion, start_js = len(ion), len(js)
        ion.append("{")
        js.append("{")
        sep = False
        for name, values in store.items():
            if type(name) is not str:  # a field name with no text ($0): written the slow way
                del ion[start_ion:], js[start_js:]
                _struct(value, ion)
                js.append(project(value))
                return
            if not values:
                continue
            field = _FIELDS.get(name) or _field(name)
            if sep:
                ion.append(",")
                js.append(",")
            sep = True
            if len(values) > 1:
                for x in values[:-1]:  # Ion keeps every value of a repeated name; JSON the last one
                    ion.append(field)
                    _WRITERS.get(type(x), _c_writer)(x, ion)
                    ion.append(",")
            ion.append(field)
            js.append(_JSON_KEYS.get(name) or _json_key(name))
            x = values[-1]
            if type(x) is str:  # the common case inlined: one call less per field
                quoted = encode_basestring(x)
                ion.append(quoted if len(quoted) == len(x) + 2 else _string(x))
                js.append(quoted)
            else:
                _both(x, ion, js, project)
        ion.append("}")
        js.append("}")
    elif t is int:
        text = str(value)
        ion.append(text)
        js.append(text if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else f'"{text}"')
    elif t is Timestamp:
        text = timestamp_to_ion_text(value)
        ion.append(text)
        js.append(f'"{text[:-1]}"' if text[-1] == "T" else f'"{text}"')  # ISO: no T after a year or month
    elif t is bytes:
        b64 = binascii.b2a_base64(value, newline=False).decode("ascii")
        ion.append("{{" + b64 + "}}")
        js.append(f'"{b64}"')
    elif t is list:
        ion.append("[")
        js.append("[")
        sep = False
        for x in value:
            if sep:
                ion.append(",")
                js.append(",")
            sep = True
            _both(x, ion, js, project)
        ion.append("]")
        js.append("]")
    elif t is Decimal:
        ion.append(_decimal(value))
        js.append(f'"{value}"')
    elif t is bool:
        ion.append(text := "true" if value else "false")
        js.append(text)
    elif value is None:
        ion.append("null")
        js.append("null")
    else:
        _WRITERS.get(t, _c_writer)(value, ion)
        js.append(project(value))


def ion_text_and_json(
    struct: IonValue, json_fields: frozenset[str], project: Callable[[Any], str]
) -> tuple[str, dict[str, str]]:
    """A struct's Ion text, and the JSON projection text of some of its fields, from one walk.

    The same texts as `ion_to_ion_text(struct)` and `project(get_field(struct, name))` for each
    name in `json_fields` that has a value (the last one, when repeated) other than null, where
    `project` is the projection's own writer (`normalise.ion_to_json_text`). Written together
    because the archive keeps both for a revision (`revision_ion`, `data_json`) and for a block's
    `transactionInfo`: one walk formats each string, timestamp and blob once for both, instead of
    walking the value again to project it. Fastest on bare values (MAY_BE_BARE, as the transform
    parses): an `IonPy*` scalar is handed to `project` on its own.

    >>> from amazon.ion import simpleion
    >>> bare = simpleion.IonPyValueModel.MAY_BE_BARE
    >>> v = simpleion.loads("{id: a, data: {n: 9.0, t: 2019T, h: {{aGk=}}, f: 1e0}}", value_model=bare)
    >>> ion, texts = ion_text_and_json(v, frozenset({"data"}), lambda x: "<projected>")
    >>> ion
    '{id:a,data:{n:9.0,t:2019T,h:{{aGk=}},f:1e+0}}'
    >>> texts
    {'data': '{"n":"9.0","t":"2019","h":"aGk=","f":<projected>}'}
    """
    store = getattr(struct, _STORE, None)
    if type(struct) is not IonPyDict or struct.ion_annotations or store is None:
        return ion_to_ion_text(struct), _json_of(struct, json_fields, project)
    ion: list[str] = ["{"]
    texts: dict[str, str] = {}
    sep = False
    for name, values in store.items():
        if type(name) is not str:
            return ion_to_ion_text(struct), _json_of(struct, json_fields, project)
        if not values:
            continue
        field = _FIELDS.get(name) or _field(name)
        last = values[-1] if name in json_fields else _NOT_PROJECTED  # JSON: the last value, not null
        for x in values:
            if sep:
                ion.append(",")
            sep = True
            ion.append(field)
            if x is last and x is not None and not isinstance(x, IonPyNull):
                js: list[str] = []
                _both(x, ion, js, project)
                texts[name] = "".join(js)
            else:
                _WRITERS.get(type(x), _c_writer)(x, ion)
    ion.append("}")
    return "".join(ion), texts


def _json_of(struct: IonValue, json_fields: frozenset[str], project: Callable[[Any], str]) -> dict[str, str]:
    texts = {}
    for name in json_fields:
        value = get_field(struct, name)
        if value is not None:
            texts[name] = project(value)
    return texts

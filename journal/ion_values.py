"""Typed access to parsed Ion values, raising `JournalError`s: the one set of field accessors.

amazon-ion is untyped, so `IonValue` is `Any`; these helpers are where a parsed struct is
checked field by field, so that a malformed record names the field at fault.

They read both of amazon-ion's value models. `simpleion.loads` builds `IonPy*` objects by
default; with `IonPyValueModel.MAY_BE_BARE` it returns plain Python values wherever that loses
nothing (an unannotated string is a `str`, a symbol a `SymbolToken`, a blob `bytes`, an int an
`int`, a timestamp a `Timestamp`, a list a `list`, an untyped null `None`). Structs, sexps,
clobs, typed nulls and annotated values stay `IonPy*`, so a value still says its exact Ion type.
Either way an accessor returns the same thing, or raises the same `FieldError`.

The common case is tested first (``type(v) is str``, one pointer comparison): the archive
transform parses with MAY_BE_BARE and reads ~30 fields a record.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final

from amazon.ion.core import IonType, Timestamp
from amazon.ion.simple_types import IonPyNull
from amazon.ion.symbols import SymbolToken

IonValue = Any
"""A value produced by `amazon.ion.simpleion.loads`: an `IonPy*` object or a bare Python value."""


class FieldError(ValueError):
    """A field is missing or of the wrong Ion type; callers wrap it in a located error."""


_BARE_TYPES: Final[dict[type, IonType]] = {
    type(None): IonType.NULL,
    bool: IonType.BOOL,
    int: IonType.INT,
    float: IonType.FLOAT,
    Decimal: IonType.DECIMAL,
    Timestamp: IonType.TIMESTAMP,
    dt.datetime: IonType.TIMESTAMP,
    str: IonType.STRING,
    SymbolToken: IonType.SYMBOL,
    bytes: IonType.BLOB,
    list: IonType.LIST,
}
"""The Ion type of each bare value's class (MAY_BE_BARE; exact classes, so a bool is no int)."""


def ion_type(value: IonValue) -> IonType:
    """The Ion type of a parsed value, bare or `IonPy*` (`IonType.NULL` for untyped null).

    >>> from amazon.ion import simpleion
    >>> ion_type(simpleion.loads("[a]")[0]), ion_type("a"), ion_type(None)
    (<IonType.SYMBOL: 6>, <IonType.STRING: 7>, <IonType.NULL: 0>)
    """
    t = _BARE_TYPES.get(type(value))
    if t is None:
        t = getattr(value, "ion_type", None)
        if t is None:
            raise FieldError(f"not an Ion value: {type(value).__name__}")
    return t


def is_null(value: IonValue) -> bool:
    """True for `null` and every typed null (`null.struct`, ...)."""
    return value is None or isinstance(value, IonPyNull)


def get_field(struct: IonValue, name: str) -> IonValue | None:
    """A struct field (the last one, if repeated), or None when absent or null.

    Reads `IonPyDict`'s own field store when there is one: its `get` is the generic Mapping
    one (two Python calls and an exception per miss), and field access is most of what
    turning a parsed record into the model costs. amazon-ion is pinned below 0.16 for this.
    """
    try:
        fields = struct._IonPyDict__store.get(name)
    except AttributeError:
        v = struct.get(name)
    else:
        v = fields[-1] if fields else None
    return None if v is None or isinstance(v, IonPyNull) else v


def req_struct(struct: IonValue, name: str) -> IonValue:
    """A required struct field (structs are never bare: always an `IonPyDict`)."""
    v = get_field(struct, name)
    if v is None or getattr(v, "ion_type", None) is not IonType.STRUCT:
        raise FieldError(f"field {name!r} must be a struct")
    return v


def as_str(v: IonValue, name: str) -> str:
    """A string or symbol value as text; `name` says where it sits, in the error.

    >>> from amazon.ion import simpleion
    >>> as_str(simpleion.loads("sym"), "keys[0]"), as_str("text", "keys[1]")
    ('sym', 'text')
    """
    if type(v) is str:
        return v
    t = ion_type(v)
    if t is IonType.STRING:
        return str(v)
    if t is IonType.SYMBOL:
        text = getattr(v, "text", v)
        if text is None:
            raise FieldError(f"field {name!r} is a symbol with no text")
        return str(text)
    raise FieldError(f"field {name!r} must be a string, not {t.name.lower()}")


def req_str(struct: IonValue, name: str) -> str:
    """A required string (or symbol) field."""
    v = get_field(struct, name)
    if type(v) is str:
        return v
    if v is None:
        raise FieldError(f"field {name!r} is missing")
    return as_str(v, name)


def opt_str(struct: IonValue, name: str) -> str | None:
    """An optional string (or symbol) field."""
    v = get_field(struct, name)
    return None if v is None else as_str(v, name)


def req_int(struct: IonValue, name: str) -> int:
    """A required int field."""
    v = get_field(struct, name)
    if type(v) is int:
        return v
    if v is None or getattr(v, "ion_type", None) is not IonType.INT:
        raise FieldError(f"field {name!r} must be an int")
    return int(v)


def _as_blob(v: IonValue, name: str) -> bytes:
    if type(v) is bytes:
        return v
    if getattr(v, "ion_type", None) is not IonType.BLOB:
        raise FieldError(f"field {name!r} must be a blob")
    return bytes(v)


def req_blob(struct: IonValue, name: str) -> bytes:
    """A required blob field (QLDB hashes are blobs)."""
    v = get_field(struct, name)
    if v is None:
        raise FieldError(f"field {name!r} must be a blob")
    return _as_blob(v, name)


def opt_blob(struct: IonValue, name: str) -> bytes | None:
    """An optional blob field."""
    v = get_field(struct, name)
    return None if v is None else _as_blob(v, name)


def req_timestamp(struct: IonValue, name: str) -> dt.datetime:
    """A required timestamp field, as an aware datetime (the Ion value keeps its precision)."""
    v = get_field(struct, name)
    if v is None or _BARE_TYPES.get(type(v), getattr(v, "ion_type", None)) is not IonType.TIMESTAMP:
        raise FieldError(f"field {name!r} must be a timestamp")
    return v  # type: ignore[no-any-return]


def req_list(struct: IonValue, name: str) -> list[IonValue]:
    """A required list field (a bare list is returned as it is, not copied)."""
    v = get_field(struct, name)
    if type(v) is list:
        return v
    if v is None or getattr(v, "ion_type", None) is not IonType.LIST:
        raise FieldError(f"field {name!r} must be a list")
    return list(v)


def blob_list(struct: IonValue, name: str) -> tuple[bytes, ...]:
    """A required list of blobs."""
    items = req_list(struct, name)
    for i, h in enumerate(items):
        if type(h) is not bytes and getattr(h, "ion_type", None) is not IonType.BLOB:
            raise FieldError(f"{name}[{i}] must be a blob")
    return tuple(bytes(h) for h in items)

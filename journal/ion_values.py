"""Typed access to parsed Ion values (amazon-ion's `IonPy*` objects), raising `JournalError`s.

amazon-ion is untyped, so `IonValue` is `Any`; these helpers are where a parsed struct is
checked field by field, so that a malformed record names the field at fault.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from amazon.ion.core import IonType
from amazon.ion.simple_types import IonPyNull

IonValue = Any
"""A value produced by `amazon.ion.simpleion.loads` (an `IonPy*` object, `None` never)."""


class FieldError(ValueError):
    """A field is missing or of the wrong Ion type; callers wrap it in a located error."""


def ion_type(value: IonValue) -> IonType:
    """The Ion type of a parsed value (`IonType.NULL` for untyped null)."""
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
    """A required struct field."""
    v = get_field(struct, name)
    if v is None or getattr(v, "ion_type", None) is not IonType.STRUCT:
        raise FieldError(f"field {name!r} must be a struct")
    return v


def _as_str(v: IonValue, name: str) -> str:
    t = getattr(v, "ion_type", None)
    if t is IonType.STRING:
        return str(v)
    if t is IonType.SYMBOL:
        return str(v.text)
    raise FieldError(f"field {name!r} must be a string, not {ion_type(v).name.lower()}")


def req_str(struct: IonValue, name: str) -> str:
    """A required string (or symbol) field."""
    v = get_field(struct, name)
    if v is None:
        raise FieldError(f"field {name!r} is missing")
    return _as_str(v, name)


def opt_str(struct: IonValue, name: str) -> str | None:
    """An optional string (or symbol) field."""
    v = get_field(struct, name)
    return None if v is None else _as_str(v, name)


def req_int(struct: IonValue, name: str) -> int:
    """A required int field."""
    v = get_field(struct, name)
    if v is None or getattr(v, "ion_type", None) is not IonType.INT:
        raise FieldError(f"field {name!r} must be an int")
    return int(v)


def _as_blob(v: IonValue, name: str) -> bytes:
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
    if v is None or getattr(v, "ion_type", None) is not IonType.TIMESTAMP:
        raise FieldError(f"field {name!r} must be a timestamp")
    return v  # type: ignore[no-any-return]


def req_list(struct: IonValue, name: str) -> list[IonValue]:
    """A required list field."""
    v = get_field(struct, name)
    if v is None or getattr(v, "ion_type", None) is not IonType.LIST:
        raise FieldError(f"field {name!r} must be a list")
    return list(v)


def blob_list(struct: IonValue, name: str) -> tuple[bytes, ...]:
    """A required list of blobs."""
    items = req_list(struct, name)
    for i, h in enumerate(items):
        if getattr(h, "ion_type", None) is not IonType.BLOB:
            raise FieldError(f"{name}[{i}] must be a blob")
    return tuple(bytes(h) for h in items)

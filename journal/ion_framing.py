"""A framing check of Ion binary, run before amazon-ion's C reader sees untrusted bytes.

Why: amazon-ion 0.15's C extension never returns on some malformed Ion binary (found by
fuzzing mutated QLDB stream records: a value whose declared length runs past the end of its
container, for example a truncated local symbol table). No exception, no timeout: the Lambda
would hang until it times out, Firehose would retry the whole batch and finally fail every
record of it, and the local runner or a backfill would hang forever. Python cannot interrupt a
loop inside a C call, so the bytes are checked first.

The check walks the type descriptors and lengths of every value (Ion 1.0 binary encoding,
https://amazon-ion.github.io/ion-docs/docs/binary.html): each value, VarUInt, field name and
annotation must fit inside its container, containers nest at most `MAX_DEPTH` deep, and type
code 15 is refused. It does not decode scalars: what passes is well-framed, not necessarily
valid Ion (the reader still rejects bad scalars, with an exception). Ion text is not checked
here: it has no lengths to run past.

Two walkers accept the same bytes. `_framed` runs on every record and only answers yes or no: a
table gives, for each of the 256 type descriptor bytes, the whole length of a short scalar (most
values: one lookup and one addition each) or what else to do, and a value that runs past its
container shows as the walk ending past the container's end. When it says no, `_walk`, which
checks each rule in turn, walks the bytes again to say what is wrong and where. The fast walk
takes ~0.8x the detailed one's time on DMV records, whose values are mostly short scalars, and
enters containers without a call; `benchmarks/bench_parse.py` prints the check's cost next to
the parse it guards. Tests check on real, mutated and random bytes that the two always agree.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ION_BINARY_MARKER", "MAX_DEPTH", "ion_binary_framing_problem", "ion_bytes_problem"]

ION_BINARY_MARKER: Final = b"\xe0\x01\x00\xea"
"""The Ion 1.0 binary version marker that opens Ion binary data (and may recur at top level)."""

MAX_DEPTH: Final = 100
"""Deepest container nesting accepted (amazon-ion's C reader stops at 100 as well)."""


class _FramingError(Exception):
    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason, self.offset = reason, offset


def _varuint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    start = pos
    while pos < end:
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if b & 0x80:
            return value, pos
        if pos - start > 8:
            raise _FramingError("VarUInt longer than 8 bytes", start)
    raise _FramingError("VarUInt runs past the end of its container", start)


def ion_binary_framing_problem(data: bytes) -> str | None:
    """What is wrong with the framing of Ion binary `data`, or None when it is well framed.

    Data that does not start with the Ion binary version marker is not checked (None): it is
    Ion text, or not Ion at all, and the reader reports that itself.

    >>> ion_binary_framing_problem(ION_BINARY_MARKER + bytes([0x21, 0x05]))  # the int 5
    >>> ion_binary_framing_problem(ION_BINARY_MARKER + bytes([0x83, 0x61, 0x62]))  # "ab" cut short
    'value at byte 4 runs past the end of its container (byte 7)'
    """
    if not data.startswith(ION_BINARY_MARKER):
        return None
    try:
        _check_top(data)
    except _FramingError as exc:
        return exc.reason
    return None


_SYMBOL_TABLE_SID: Final = 3  # $ion_symbol_table
_MAX_REMEMBERED: Final = 512
_WELL_FRAMED_TABLES: set[bytes] = set()  # local symbol tables already walked (bytes, so exact)


def _check_top(data: bytes) -> None:
    """Walk every top-level value; a local symbol table already seen is not walked again.

    Records of one table repeat their symbol table byte for byte, and it is a large part of a
    small record: remembering the well-framed ones saves a third of the walk.
    """
    pos, total = 0, len(data)
    while pos < total:
        if data.startswith(ION_BINARY_MARKER, pos):
            pos += 4
            continue
        start = pos
        td = data[pos]
        pos += 1
        t, ln = td >> 4, td & 0x0F
        if ln == 15 or t == 1:  # nulls and bools: one byte
            if _CODES[td] != 1:
                _walk(data, start, pos, _SEQUENCE, 0)
            continue
        if ln == 14 or (t == 13 and ln == 1):
            ln, pos = _varuint(data, pos, total)
        vend = pos + ln
        if vend > total:
            raise _FramingError(
                f"value at byte {start} runs past the end of its container (byte {total})", start
            )
        table = b""
        if t == 14:
            annot_len, p = _varuint(data, pos, vend)
            if annot_len and p < vend and _varuint(data, p, vend)[0] == _SYMBOL_TABLE_SID:
                table = data[start:vend]
                if table in _WELL_FRAMED_TABLES:
                    pos = vend
                    continue
        if not _framed(data, start, vend, False, 0):
            _walk(data, start, vend, _SEQUENCE, 0)  # raises, saying what is wrong
            raise _FramingError(f"value at byte {start} is not well framed", start)  # pragma: no cover
        if table:
            if len(_WELL_FRAMED_TABLES) >= _MAX_REMEMBERED:
                _WELL_FRAMED_TABLES.clear()
            _WELL_FRAMED_TABLES.add(table)
        pos = vend


_SEQUENCE, _STRUCT, _ONE = 0, 1, 2  # what a container holds: values, (name, value) pairs, one value

# What a type descriptor byte says, for `_framed`: a positive code is the whole length of the
# value (descriptor included: nulls, bools, short scalars); the negative ones say what follows.
_INVALID, _VAR_SCALAR, _VAR_FLOAT, _SEQ, _SEQ_VAR, _STRUCT_IN, _STRUCT_VAR, _ANNOT, _ANNOT_VAR = range(-9, 0)
_VAR_LENGTH: Final = frozenset({_VAR_SCALAR, _VAR_FLOAT, _SEQ_VAR, _STRUCT_VAR, _ANNOT_VAR})


def _code(td: int) -> int:
    t, ln = td >> 4, td & 0x0F
    if t == 15 or (t == 14 and ln == 15):
        return _INVALID  # reserved type, null annotation wrapper
    if ln == 15:
        return 1  # a null of any type
    if t == 1:
        return 1 if ln <= 1 else _INVALID  # bool: the length nibble is the value
    if t == 14:
        return _ANNOT_VAR if ln == 14 else _ANNOT
    if t == 13:
        return _STRUCT_VAR if ln in (1, 14) else _STRUCT_IN  # 0xD1: a sorted struct, VarUInt length
    if t in (11, 12):
        return _SEQ_VAR if ln == 14 else _SEQ
    if t == 4:
        return _VAR_FLOAT if ln == 14 else (1 + ln if ln in (0, 4, 8) else _INVALID)
    return _VAR_SCALAR if ln == 14 else 1 + ln


_CODES: Final = tuple(_code(td) for td in range(256))


def _framed(data: bytes, pos: int, end: int, in_struct: bool, depth: int) -> bool:
    """Whether the values in ``data[pos:end]`` are well framed: `_walk`'s rules, as fast as can be.

    `_walk` accepts exactly the same bytes; this one only answers (see the module docstring). It
    enters lists and structs without a call, keeping the enclosing containers on a stack.
    """
    if depth > MAX_DEPTH:
        return False
    codes = _CODES
    stack: list[int] = []  # the enclosing containers: end * 2 + in_struct
    try:
        while True:
            if pos >= end:
                if pos != end:  # the last value ran past the end of its container
                    return False
                if not stack:
                    return True
                outer = stack.pop()
                end, in_struct = outer >> 1, bool(outer & 1)
                depth -= 1
                continue
            if in_struct:  # field name: a VarUInt symbol id, nearly always one byte
                if data[pos] & 0x80:
                    pos += 1
                else:
                    pos = _varuint(data, pos, end)[1]
                # A name with no value after it needs no test: its "value" starts at `end`, so
                # it ends past `end` (or has no byte at all: IndexError), and the walk says no.
            td = data[pos]
            code = codes[td]
            if code > 0:  # a short scalar, the common case: skip it
                pos += code
                continue
            if code == _VAR_SCALAR:  # a longer one, with a one-byte length: skip it too
                b = data[pos + 1]
                if b & 0x80:
                    pos += 2 + (b & 0x7F)
                    continue
            if code == _INVALID:
                return False
            pos += 1
            if code in _VAR_LENGTH:
                b = data[pos]
                if b & 0x80:  # a one-byte length
                    ln = b & 0x7F
                    pos += 1
                elif data[pos + 1] & 0x80:  # two bytes: a value of 128 bytes to 16 KB, no call
                    ln = (b << 7) | (data[pos + 1] & 0x7F)
                    pos += 2
                else:
                    ln, pos = _varuint(data, pos, end)
            else:
                ln = td & 0x0F
            vend = pos + ln
            if vend > end:
                return False
            if code <= _STRUCT_VAR and code >= _SEQ:  # a list, sexp or struct: walk its body next
                if depth >= MAX_DEPTH:
                    return False
                stack.append(end * 2 + in_struct)
                end, in_struct = vend, code >= _STRUCT_IN
                depth += 1
                continue
            if code == _VAR_FLOAT:
                if ln not in (0, 4, 8):
                    return False
            elif code != _VAR_SCALAR and not _framed_annotation(data, pos, vend, depth + 1):
                return False
            pos = vend
    except (_FramingError, IndexError):  # a VarUInt too long or cut short, a length byte missing
        return False


def _framed_annotation(data: bytes, pos: int, end: int, depth: int) -> bool:
    """An annotation wrapper's body: its annotations, then exactly one value that is not a wrapper."""
    annot_len, p = _varuint(data, pos, end)
    annot_end = p + annot_len
    if annot_len == 0 or annot_end >= end:
        return False
    while p < annot_end:
        p = _varuint(data, p, annot_end)[1]
    if data[annot_end] >> 4 == 14:
        return False
    return _one_value(data, annot_end, end) and _framed(data, annot_end, end, False, depth)


def _one_value(data: bytes, pos: int, end: int) -> bool:
    """Whether the value at `pos` ends exactly at `end` (its length only; `_framed` checks the rest)."""
    td = data[pos]
    code = _CODES[td]
    if code > 0:
        return pos + code == end
    ln = td & 0x0F
    pos += 1
    if code in _VAR_LENGTH:
        ln, pos = _varuint(data, pos, end)
    return pos + ln == end


def _walk(data: bytes, pos: int, end: int, kind: int, depth: int) -> None:
    # One tight loop per container; scalars never leave it (this runs on every record).
    if depth > MAX_DEPTH:
        raise _FramingError(f"containers nested deeper than {MAX_DEPTH} at byte {pos}", pos)
    count = 0
    while pos < end:
        if kind == _STRUCT:  # field name: a VarUInt symbol id, nearly always one byte
            if data[pos] & 0x80:
                pos += 1
            else:
                pos = _varuint(data, pos, end)[1]
            if pos >= end:
                raise _FramingError(f"struct field at byte {pos} has a name but no value", pos)
        elif kind == _ONE and count:
            raise _FramingError(f"annotation wrapper ending at byte {end} holds more than one value", pos)
        count += 1
        start = pos
        td = data[pos]
        pos += 1
        t = td >> 4
        ln = td & 0x0F
        if ln == 15:  # a null of any type: no body (an annotation wrapper cannot be null)
            if t >= 14:
                raise _FramingError(f"null annotation wrapper or type code 15 at byte {start}", start)
            continue
        if t == 1:  # bool: the length nibble is the value
            if ln > 1:
                raise _FramingError(f"bool with length code {ln} at byte {start}", start)
            continue
        if ln == 14 or (ln == 1 and t == 13):  # VarUInt length follows (or a sorted struct)
            if pos < end and data[pos] & 0x80:
                ln = data[pos] & 0x7F
                pos += 1
            else:
                ln, pos = _varuint(data, pos, end)
        vend = pos + ln
        if vend > end:
            raise _FramingError(
                f"value at byte {start} runs past the end of its container (byte {end})", start
            )
        if t >= 11:
            if t == 15:
                raise _FramingError(f"reserved type code 15 at byte {start}", start)
            if t == 14:  # annotation wrapper: annotations, then exactly one (non-wrapper) value
                annot_len, p = _varuint(data, pos, vend)
                annot_end = p + annot_len
                if annot_len == 0 or annot_end >= vend:
                    raise _FramingError(
                        f"annotation wrapper at byte {start} has no annotations or no value", start
                    )
                while p < annot_end:
                    p = _varuint(data, p, annot_end)[1]
                if data[annot_end] >> 4 == 14:
                    raise _FramingError(
                        f"annotation wrapper nested directly in another at byte {start}", start
                    )
                _walk(data, annot_end, vend, _ONE, depth + 1)
            else:  # list, sexp, struct
                _walk(data, pos, vend, _STRUCT if t == 13 else _SEQUENCE, depth + 1)
        elif t == 4 and ln != 0 and ln != 4 and ln != 8:
            raise _FramingError(f"float of {ln} bytes at byte {start}", start)
        pos = vend


def ion_bytes_problem(data: bytes) -> str | None:
    r"""Why these bytes must not reach amazon-ion's C reader, or None.

    Ion binary gets the framing check of `journal.ion_framing` (the C reader can loop forever on
    badly framed binary). Anything else is read as Ion text, and must be UTF-8: the C reader can
    crash the process on binary bytes read as text (seen with a QLDB block whose version marker
    had one byte changed).

    >>> ion_bytes_problem(b"{a:1}"), ion_bytes_problem(b"\x27\xff")
    (None, 'neither Ion binary nor UTF-8 Ion text (byte 1)')
    """
    if data.startswith(ION_BINARY_MARKER):
        return ion_binary_framing_problem(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"neither Ion binary nor UTF-8 Ion text (byte {exc.start})"
    return None

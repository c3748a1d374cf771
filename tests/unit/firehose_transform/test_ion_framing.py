"""journal.ion_framing on the records the transform sees: real, simulated and fuzzed."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from amazon.ion import simpleion
from hypothesis import given
from hypothesis import strategies as st

from journal import ion_framing
from journal.ion_framing import ION_BINARY_MARKER, MAX_DEPTH, ion_binary_framing_problem

IVM = ION_BINARY_MARKER


def test_real_and_simulated_records_pass(real: Any, simulated: Any) -> None:
    assert ion_binary_framing_problem(real.revision) is None
    assert ion_binary_framing_problem(real.block_summary) is None
    assert ion_binary_framing_problem(real.revision_text) is None  # text: not checked
    for event in simulated.events():
        for record in event["records"]:
            assert ion_binary_framing_problem(base64.b64decode(record["data"])) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (bytes([0x83, 0x61, 0x62]), "runs past the end"),  # string "ab?" cut short
        (bytes([0x8E, 0x81]), "runs past the end"),  # 1-byte string with no byte
        (bytes([0x8E, 0x01]), "VarUInt runs past"),  # length VarUInt never ends
        (bytes([0xF0]), "reserved type code 15"),
        (bytes([0x12]), "bool with length code 2"),
        (bytes([0x43, 0, 0, 0]), "float of 3 bytes"),
        (bytes([0xB3, 0x21, 0x01]), "runs past the end"),  # list [1, ...] cut short
        (bytes([0xDE, 0x81, 0x84]), "has a name but no value"),  # {name: <nothing>}
        (bytes([0xE3, 0x81, 0x84, 0xE3]), "nested directly"),  # annotation wrapping a wrapper
        (bytes([0xE2, 0x80, 0x21]), "no annotations"),
        (bytes([0xE5, 0x81, 0x84, 0x21, 0x01, 0x10]), "more than one value"),
        (bytes([0xEF]), "null annotation wrapper"),
    ],
)
def test_malformed_framing_is_named(body: bytes, reason: str) -> None:
    problem = ion_binary_framing_problem(IVM + body)
    assert problem is not None
    assert reason in problem


def test_nesting_deeper_than_the_limit() -> None:
    value = b"\x21\x01"
    for _ in range(MAX_DEPTH + 5):
        value = _list(value)
    problem = ion_binary_framing_problem(IVM + value)
    assert problem is not None
    assert "nested deeper" in problem
    assert ion_binary_framing_problem(IVM + _list(_list(b"\x21\x01"))) is None


def _list(body: bytes) -> bytes:
    if len(body) < 14:
        return bytes([0xB0 | len(body)]) + body
    return bytes([0xBE]) + _varuint(len(body)) + body


def _varuint(n: int) -> bytes:
    out = [0x80 | (n & 0x7F)]
    n >>= 7
    while n:
        out.insert(0, n & 0x7F)
        n >>= 7
    return bytes(out)


# A mutated simulated REVISION_DETAILS on which amazon-ion 0.15's C reader never returns (found by
# fuzzing): deep in the document, a sexp holds a NOP pad that runs past the sexp's end.
HANGS_IN_DATA = base64.b64decode(
    "4AEA6u4BsYGD3gGsh74BqI1xbGRiU3RyZWFtQXJuinJlY29yZFR5cGWHcGF5bG9hZIl0YWJsZUluZm+JdGFibGVOYW1lh3Rh"
    "YmxlSWSIcmV2aXNpb26MYmxvY2tBZGRyZXNziHN0cmFuZElkinNlcXVlbmNlTm+EaGFzaIRkYXRhg1ZJToRUeXBlhFllYXKE"
    "TWFrZYVNb2RlbIVDb2xvcohtZXRhZGF0YYJpZIZ0eFRpbWWEdHhJZN4C1YqO1mFybjphd3M6cWxkYjp1cy1lYXN0LTE6MTIz"
    "NDU2Nzg5MDEyOnN0cmVhbS92ZWhpY2xlLXJlZ2lzdHJhdGlvbi9VU1VSa0dETUhZYlkxNEE5MDFDdlRoi46QUkVWSVNJT05f"
    "REVUQUlMU4zeAeWN3qKOh1ZlaGljbGWPjpZxTXBTSnlydW9NZFFNSTFLRXlZeU1SkN4BvJHenJKOlks4dFdIdmVZSWFOd3ht"
    "YVNOVnRUeXOTIS+UrqCD1PSh0zlqikjqJWkrU7FxVsWY0xGGmvQAHpDNA1N5GJXes5aOkUVIVkFXRUpaRlhXNEtYSFdNl4NT"
    "VVaYIgfamYZUb3lvdGGahFJBVjSbhlllbGxvd5zewZ2Olm1pQnFXRG5jcGFLYWw3ZGlVbkhub3KFJ55rgA/jjIuHgJTDAwif"
    "jpZ5ZlRDYVlNYWltR3VXQ2lWc21nR2hw"
)


def test_inputs_that_hung_the_c_reader(real: Any) -> None:
    bs = real.block_summary
    in_symbol_table = bs[:247] + b"\x67" + bs[247:1115]  # a byte inserted, then cut
    for data, at in ((in_symbol_table, "byte 276"), (HANGS_IN_DATA, "byte 501")):
        problem = ion_binary_framing_problem(data)
        assert problem is not None
        assert f"value at {at} runs past the end of its container" in problem


ion_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.datetimes(),
)
ion_values = st.recursive(
    ion_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(st.lists(ion_values, min_size=1, max_size=3))
def test_every_valid_ion_binary_passes(values: list[Any]) -> None:
    data = simpleion.dumps(values, binary=True, sequence_as_stream=True)
    assert ion_binary_framing_problem(data) is None


@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_check(tail: bytes) -> None:
    problem = ion_binary_framing_problem(IVM + tail)
    assert problem is None or isinstance(problem, str)


def _detailed_problem(data: bytes) -> str | None:
    """What the detailed walker alone says of a top-level value (no fast path, no table memory)."""
    try:
        ion_framing._walk(data, 0, len(data), ion_framing._SEQUENCE, 0)
    except ion_framing._FramingError as exc:
        return exc.reason
    return None


def _fast_says_framed(data: bytes) -> bool:
    return ion_framing._framed(data, 0, len(data), False, 0)


@given(st.data())
def test_fast_and_detailed_walkers_agree_on_mutated_records(real: Any, data: st.DataObject) -> None:
    # GIVEN a real record's values without the version marker, with bytes changed, cut or inserted
    body = bytearray(data.draw(st.sampled_from([real.revision, real.block_summary]))[len(IVM) :])
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        action = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if action == "set":
            body[at] = data.draw(st.integers(min_value=0, max_value=255))
        elif action == "cut":
            del body[at:]
        else:
            body.insert(at, data.draw(st.integers(min_value=0, max_value=255)))
        if not body:
            body.append(0x21)
    # THEN the fast walker accepts exactly what the detailed one accepts
    assert _fast_says_framed(bytes(body)) == (_detailed_problem(bytes(body)) is None)


@given(st.binary(min_size=1, max_size=64))
def test_fast_and_detailed_walkers_agree_on_random_bytes(body: bytes) -> None:
    assert _fast_says_framed(body) == (_detailed_problem(body) is None)


@pytest.mark.parametrize("td", range(256))
def test_fast_and_detailed_walkers_agree_on_every_type_descriptor(td: int) -> None:
    for tail in (b"", b"\x81", b"\x81\x21\x01", b"\x83\x81\x84\x21\x01", bytes(20)):
        body = bytes([td]) + tail
        assert _fast_says_framed(body) == (_detailed_problem(body) is None), body.hex()

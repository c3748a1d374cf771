"""The field accessors read both of amazon-ion's value models alike: same values, same errors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simpleion import IonPyValueModel

from journal.ion_values import (
    FieldError,
    as_str,
    blob_list,
    get_field,
    ion_type,
    is_null,
    opt_blob,
    opt_str,
    req_blob,
    req_int,
    req_list,
    req_str,
    req_struct,
    req_timestamp,
)

DMV = "amazon-qldb-streams-dmv-sample-lambda-python"
MODELS = (IonPyValueModel.ION_PY, IonPyValueModel.MAY_BE_BARE)


def both(text: str | bytes) -> list[Any]:
    return [simpleion.loads(text, value_model=model) for model in MODELS]


def test_real_block_summary_reads_the_same_in_both_models(qldb_real: Path) -> None:
    text = (qldb_real / DMV / "block_summary_record.ion").read_bytes()
    seen = []
    for record in both(text):
        payload = req_struct(record, "payload")
        address = req_struct(payload, "blockAddress")
        seen.append(
            (
                req_str(record, "recordType"),
                req_str(address, "strandId"),
                req_int(address, "sequenceNo"),
                req_timestamp(payload, "blockTimestamp"),
                req_blob(payload, "blockHash"),
                opt_blob(payload, "previousBlockHash"),
                blob_list(payload, "entriesHashList"),
                [opt_str(s, "documentId") for s in req_list(payload, "revisionSummaries")],
                opt_str(payload, "absent"),
            )
        )
    ion_py, bare = seen
    assert ion_py == bare
    # VECTORS.md: the block's address and hash
    assert ion_py[1:3] == ("HbD9IggL584EPHmfwjmVz0", 3)
    assert base64.b64encode(ion_py[4]).decode() == "lu425dAWsmvzxuNHTbn4ID4mLo0bWKkjLP2Uel4wrPQ="


@pytest.mark.parametrize(
    ("text", "call", "message"),
    [
        ("{}", lambda s: req_str(s, "a"), "field 'a' is missing"),
        ("{a: 1}", lambda s: req_str(s, "a"), "field 'a' must be a string, not int"),
        ("{a: {{aGk=}}}", lambda s: opt_str(s, "a"), "field 'a' must be a string, not blob"),
        ("{a: $0}", lambda s: req_str(s, "a"), "field 'a' is a symbol with no text"),
        ("{a: [1]}", lambda s: req_struct(s, "a"), "field 'a' must be a struct"),
        ("{a: null.struct}", lambda s: req_struct(s, "a"), "field 'a' must be a struct"),
        ("{a: \"1\"}", lambda s: req_int(s, "a"), "field 'a' must be an int"),
        ("{a: true}", lambda s: req_int(s, "a"), "field 'a' must be an int"),
        ("{a: \"x\"}", lambda s: req_blob(s, "a"), "field 'a' must be a blob"),
        ("{a: {{\"x\"}}}", lambda s: opt_blob(s, "a"), "field 'a' must be a blob"),
        ("{a: 2019T}", lambda s: req_list(s, "a"), "field 'a' must be a list"),
        ("{a: (x)}", lambda s: req_list(s, "a"), "field 'a' must be a list"),
        ("{a: \"2019\"}", lambda s: req_timestamp(s, "a"), "field 'a' must be a timestamp"),
        ("{a: [{{aGk=}}, 1]}", lambda s: blob_list(s, "a"), "a[1] must be a blob"),
    ],
)  # fmt: skip
def test_the_same_error_in_both_models(text: str, call: Any, message: str) -> None:
    for struct in both(text):
        with pytest.raises(FieldError) as err:
            call(struct)
        assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("null", IonType.NULL), ("true", IonType.BOOL), ("1", IonType.INT), ("1e0", IonType.FLOAT),
     ("1.0", IonType.DECIMAL), ("2019T", IonType.TIMESTAMP), ("a", IonType.SYMBOL), ('"a"', IonType.STRING),
     ("{{aGk=}}", IonType.BLOB), ('{{"a"}}', IonType.CLOB), ("[]", IonType.LIST), ("()", IonType.SEXP),
     ("{}", IonType.STRUCT), ("x::1", IonType.INT), ("null.int", IonType.INT)],
)  # fmt: skip
def test_ion_type_of_every_type(text: str, expected: IonType) -> None:
    assert [ion_type(v) for v in both(text)] == [expected, expected]


def test_nulls_and_symbols() -> None:
    for struct in both("{a: null, b: null.string, c: sym, d: 'q r', d: last}"):
        assert get_field(struct, "a") is None
        assert get_field(struct, "b") is None
        assert is_null(None)
        assert req_str(struct, "c") == "sym"
        assert req_str(struct, "d") == "last"  # the last of repeated fields
        assert as_str(get_field(struct, "c"), "c") == "sym"
    with pytest.raises(FieldError, match="not an Ion value: object"):
        ion_type(object())

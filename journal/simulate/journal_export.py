"""Write a journal export folder as `ExportJournalToS3` would, in ION_TEXT, ION_BINARY or JSON.

Layout (docs/files.md; https://docs.aws.amazon.com/qldb/latest/developerguide/export-journal.output.html),
with the folder standing for `s3://<bucket>/<prefix>/`:

- `<exportId>.started.manifest`: the request (ledgerName, exportId, inclusiveStartTime,
  exclusiveEndTime, bucket, prefix, objectEncryptionType, outputFormat);
- `<exportId>.<strandId>.completed.manifest`: `{keys: [...]}`, the data objects in journal
  order, as bucket keys (`<prefix>/<yyyy>/<mm>/<dd>/<hh>/...`);
- data objects `<yyyy>/<mm>/<dd>/<hh>/<exportId>.<strandId>.<firstSeq>-<lastSeq>.ion` (`.json`
  for JSON), at most `export_blocks_per_object` blocks each, in the hour folder of their first
  block.

Manifests are written in the export's format. Data objects hold one block per value: Ion text
values one per line, Ion binary values each with its own version marker (a valid Ion stream),
JSON one object per line. JSON is QLDB's down-conversion: blobs become base64 strings,
timestamps their Ion text (`"2019-12-11T07:20:51.261Z"`, `"1963-08-19"`), decimals JSON numbers
(`9.0` and `9` survive as text but not as types), symbols strings and typed nulls `null`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from pathlib import Path
from typing import IO, TYPE_CHECKING

from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simple_types import IonPyNull

from journal.ion_build import ion_list, ion_string, ion_struct, ion_timestamp_ms

if TYPE_CHECKING:
    from journal.ion_values import IonValue
    from journal.records import Block
    from journal.simulate.config import ExportFormat

__all__ = ["ExportWriter", "ion_to_json"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
_BUCKET = "amzn-s3-demo-bucket"


def ion_to_json(value: IonValue) -> str:
    """QLDB's JSON down-conversion of an Ion value, as compact JSON text.

    >>> from amazon.ion import simpleion
    >>> ion_to_json(simpleion.loads('{a: 9.0, b: 1963-08-19T, c: {{AQI=}}, d: null.string, e: sym}'))
    '{"a":9.0,"b":"1963-08-19","c":"AQI=","d":null,"e":"sym"}'
    """
    if isinstance(value, IonPyNull):
        return "null"
    t = value.ion_type
    if t is IonType.STRUCT:
        return "{" + ",".join(json.dumps(str(k)) + ":" + ion_to_json(v) for k, v in value.items()) + "}"
    if t is IonType.LIST or t is IonType.SEXP:
        return "[" + ",".join(ion_to_json(v) for v in value) + "]"
    if t is IonType.STRING:
        return json.dumps(str(value))
    if t is IonType.SYMBOL:
        return json.dumps(value.text)
    if t is IonType.INT:
        return str(int(value))
    if t is IonType.BOOL:
        return "true" if value else "false"
    if t is IonType.DECIMAL:
        return str(value) if value.is_finite() else "null"
    if t is IonType.FLOAT:
        return repr(float(value)) if math.isfinite(value) else "null"
    if t is IonType.TIMESTAMP:
        return json.dumps(simpleion.dumps(value, binary=False, omit_version_marker=True))
    if t is IonType.BLOB or t is IonType.CLOB:
        return json.dumps(base64.b64encode(bytes(value)).decode("ascii"))
    return "null"


class ExportWriter:
    """Writes blocks, in journal order, into an export folder; `close` writes the manifests.

    Args:
        folder: the export's prefix folder (created if missing).
        fmt: the output format.
        blocks_per_object: most blocks per data object.
        export_id, strand_id, ledger_name, prefix: names used in file names and manifests.
        start_ms: the export's inclusive start time (epoch milliseconds).
    """

    def __init__(
        self,
        folder: Path,
        *,
        fmt: ExportFormat,
        blocks_per_object: int,
        export_id: str,
        strand_id: str,
        ledger_name: str,
        prefix: str,
        start_ms: int,
    ) -> None:
        self._folder = folder
        self._fmt = fmt
        self._per_object = blocks_per_object
        self._export_id = export_id
        self._strand_id = strand_id
        self._ledger_name = ledger_name
        self._prefix = prefix.strip("/")
        self._start_ms = start_ms
        self._end_ms = start_ms
        self._keys: list[str] = []
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._hour = ""
        self._first = 0
        self._last = 0
        self._count = 0
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def objects(self) -> int:
        """Data objects written so far (the open one included)."""
        return len(self._keys) + (self._file is not None)

    def add(self, block: Block) -> None:
        """Append one block (blocks must come in sequence order)."""
        if self._file is None:
            when = block.timestamp
            self._hour = f"{when.year:04d}/{when.month:02d}/{when.day:02d}/{when.hour:02d}"
            self._path = self._folder / self._hour / f".{self._export_id}.partial"
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._path.open("wb")
            self._first = block.block_seq
            self._count = 0
        self._file.write(self._encode(block.ion))
        self._last = block.block_seq
        self._count += 1
        self._end_ms = (block.timestamp - _EPOCH) // _MS + 1
        if self._count >= self._per_object:
            self._close_object()

    def close(self) -> None:
        """Finish the last data object and write both manifests."""
        self._close_object()
        end_ms = -(-self._end_ms // 1000) * 1000  # exclusive end: the next whole second
        started = {
            "ledgerName": ion_string(self._ledger_name),
            "exportId": ion_string(self._export_id),
            "inclusiveStartTime": ion_timestamp_ms(self._start_ms),
            "exclusiveEndTime": ion_timestamp_ms(end_ms),
            "bucket": ion_string(_BUCKET),
            "prefix": ion_string(self._prefix),
            "objectEncryptionType": ion_string("NO_ENCRYPTION"),
            "outputFormat": ion_string(self._fmt),
        }
        completed = {"keys": ion_list([ion_string(k) for k in self._keys])}
        (self._folder / f"{self._export_id}.started.manifest").write_bytes(self._encode(ion_struct(started)))
        name = f"{self._export_id}.{self._strand_id}.completed.manifest"
        (self._folder / name).write_bytes(self._encode(ion_struct(completed)))

    def abort(self) -> None:
        """Close the open data object without naming it (a failed run)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _close_object(self) -> None:
        if self._file is None or self._path is None:
            return
        self._file.close()
        self._file = None
        ext = "json" if self._fmt == "JSON" else "ion"
        name = f"{self._export_id}.{self._strand_id}.{self._first}-{self._last}.{ext}"
        self._path.replace(self._path.parent / name)
        self._keys.append(f"{self._prefix}/{self._hour}/{name}")

    def _encode(self, value: IonValue) -> bytes:
        if self._fmt == "ION_BINARY":
            return simpleion.dumps(value, binary=True)  # type: ignore[no-any-return]
        if self._fmt == "JSON":
            return ion_to_json(value).encode() + b"\n"
        return simpleion.dumps(value, binary=False, omit_version_marker=True).encode() + b"\n"  # type: ignore[no-any-return]

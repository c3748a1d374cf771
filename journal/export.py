"""Read QLDB journal exports (`ExportJournalToS3`): manifests and data objects, into `Block`s.

An export writes, under its S3 prefix, `<exportId>.started.manifest`, one
`<exportId>.<strandId>.completed.manifest` per strand listing the data objects in order
(`{keys: [...]}`), and the data objects: streams of block structs, each carrying its revisions.
Three output formats exist (https://docs.aws.amazon.com/qldb/latest/developerguide/export-journal.output.html):
ION_TEXT (the default), ION_BINARY, and JSON Lines (one block per line). Manifests are written in
the export's format too; Ion text reads both.

Trap: JSON is a down-conversion. Blobs become base64 strings and timestamps strings (re-typed
here from their place in the block), but decimal `9.0` and int `9`, symbols and strings, or
timestamp precision can no longer be told apart inside documents. Ion hashes of revision data,
metadata and `transactionInfo` therefore cannot be recomputed from a JSON export: blocks read
from JSON carry `ion_exact=False` so that the verifier checks chain links and Merkle roots only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simple_types import (
    IonPyBool,
    IonPyBytes,
    IonPyDict,
    IonPyFloat,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPyText,
)

from journal.errors import ExportParseError
from journal.ion_framing import ion_bytes_problem
from journal.ion_values import FieldError, IonValue, as_str, ion_type, opt_str, req_list
from journal.records import Block, block_from_ion

__all__ = [
    "CompletedManifest",
    "ExportFormat",
    "ExportInfo",
    "StartedManifest",
    "find_exports",
    "iter_export_blocks",
    "iter_export_objects",
    "json_block_to_ion",
    "parse_completed_manifest",
    "parse_started_manifest",
    "read_export",
    "read_export_object",
]

ION_BVM = b"\xe0\x01\x00\xea"
_COMPLETED = re.compile(r"^(?P<export_id>[^.]+)\.(?P<strand_id>[^.]+)\.completed\.manifest$")
_STARTED_SUFFIX = ".started.manifest"


class ExportFormat(StrEnum):
    """`ExportJournalToS3`'s `OutputFormat`."""

    ION_TEXT = "ION_TEXT"
    ION_BINARY = "ION_BINARY"
    JSON = "JSON"


@dataclass(frozen=True, slots=True, kw_only=True)
class StartedManifest:
    """`<exportId>.started.manifest`: the export request's parameters."""

    export_id: str | None
    ledger_name: str | None
    bucket: str | None
    prefix: str | None
    output_format: ExportFormat | None  # absent when the request did not name one (ION_TEXT)
    ion: IonValue


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletedManifest:
    """`<exportId>.<strandId>.completed.manifest`: the data object keys of one strand, in order."""

    keys: tuple[str, ...]
    export_id: str | None = None  # from the file name
    strand_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInfo:
    """One export found in a folder: its manifests (one completed manifest per strand)."""

    folder: Path
    export_id: str
    completed: tuple[Path, ...]
    started: Path | None


def _load_manifest(data: bytes, *, source: str) -> IonValue:
    problem = ion_bytes_problem(data)
    if problem is not None:
        raise ExportParseError(f"not an Ion or JSON manifest: {problem}", source=source)
    try:
        value = simpleion.loads(data)
    except Exception as exc:  # amazon-ion raises bare exceptions on bad bytes
        raise ExportParseError(
            f"not an Ion or JSON manifest ({type(exc).__name__}: {exc})", source=source
        ) from None
    if ion_type(value) is not IonType.STRUCT:
        raise ExportParseError("a manifest is a struct", source=source)
    return value


def _opt_text(struct: IonValue, name: str, *, source: str) -> str | None:
    try:
        return opt_str(struct, name)
    except FieldError as exc:
        raise ExportParseError(f"manifest {exc}", source=source) from None


def parse_started_manifest(data: bytes, *, source: str) -> StartedManifest:
    """Parse a started manifest (Ion text, Ion binary or JSON).

    >>> m = parse_started_manifest(b'{exportId:"8Uy", outputFormat:"JSON"}', source="m")
    >>> m.export_id, m.output_format
    ('8Uy', <ExportFormat.JSON: 'JSON'>)

    Raises:
        ExportParseError: not a struct, a field that is not a string, or an unknown `outputFormat`.
    """
    value = _load_manifest(data, source=source)
    fmt = _opt_text(value, "outputFormat", source=source)
    try:
        output_format = None if fmt is None else ExportFormat(fmt)
    except ValueError:
        raise ExportParseError(f"unknown outputFormat {fmt!r}", source=source) from None
    return StartedManifest(
        export_id=_opt_text(value, "exportId", source=source),
        ledger_name=_opt_text(value, "ledgerName", source=source),
        bucket=_opt_text(value, "bucket", source=source),
        prefix=_opt_text(value, "prefix", source=source),
        output_format=output_format,
        ion=value,
    )


def parse_completed_manifest(data: bytes, *, source: str) -> CompletedManifest:
    """Parse a completed manifest: `{keys: [...]}` (Ion text, Ion binary or JSON).

    >>> parse_completed_manifest(b'{"keys": ["p/2019/a.1-4.ion"]}', source="m").keys
    ('p/2019/a.1-4.ion',)

    Raises:
        ExportParseError: no `keys` list of strings.
    """
    value = _load_manifest(data, source=source)
    try:
        keys = req_list(value, "keys")
    except FieldError:
        raise ExportParseError("a completed manifest needs a 'keys' list", source=source) from None
    out: list[str] = []
    for i, k in enumerate(keys):
        try:
            out.append(as_str(k, f"keys[{i}]"))
        except FieldError:
            raise ExportParseError(f"keys[{i}] is not a string", source=source) from None
    match = _COMPLETED.match(Path(source).name)
    return CompletedManifest(
        keys=tuple(out),
        export_id=match["export_id"] if match else None,
        strand_id=match["strand_id"] if match else None,
    )


# JSON down-conversion: where blobs and timestamps sit in an export block.
_BLOB_FIELDS = frozenset(
    {"blockHash", "entriesHash", "previousBlockHash", "hash", "dataHash", "statementDigest"}
)
_TIMESTAMP_FIELDS = frozenset({"blockTimestamp", "txTime", "startTime"})


def _native_to_ion(v: Any) -> IonValue:
    """A JSON native value as an Ion value (types as JSON gives them: not hash-exact)."""
    if isinstance(v, dict):
        d = IonPyDict.from_value(IonType.STRUCT, {})
        for k, x in v.items():
            d[k] = _native_to_ion(x)
        return d
    if isinstance(v, list):
        return IonPyList.from_value(IonType.LIST, [_native_to_ion(x) for x in v])
    if isinstance(v, str):
        return IonPyText.from_value(IonType.STRING, v)
    if isinstance(v, bool):
        return IonPyBool.from_value(IonType.BOOL, v)
    if isinstance(v, int):
        return IonPyInt.from_value(IonType.INT, v)
    if isinstance(v, float):
        return IonPyFloat.from_value(IonType.FLOAT, v)
    return IonPyNull.from_value(IonType.NULL, None)


def _blob(v: Any, path: str) -> IonValue:
    if v is None:
        return IonPyNull.from_value(IonType.NULL, None)
    if not isinstance(v, str):
        raise FieldError(f"{path} must be a base64 string")
    try:
        return IonPyBytes.from_value(IonType.BLOB, base64.b64decode(v, validate=True))
    except binascii.Error:
        raise FieldError(f"{path} is not base64") from None


def _timestamp(v: Any, path: str) -> IonValue:
    if not isinstance(v, str):
        raise FieldError(f"{path} must be a timestamp string")
    try:
        ts = simpleion.loads(v)
    except Exception:  # amazon-ion raises bare exceptions on bad text
        ts = None
    if ion_type(ts) is not IonType.TIMESTAMP:
        raise FieldError(f"{path} is not an Ion timestamp: {v!r}")
    return ts


def _retype(struct: dict[str, Any], path: str, nested: dict[str, Callable[[Any, str], IonValue]]) -> IonValue:
    """Convert a JSON struct, re-typing the envelope fields QLDB down-converted (not user data)."""
    out = IonPyDict.from_value(IonType.STRUCT, {})
    for k, v in struct.items():
        where = f"{path}.{k}" if path else k
        if k in nested:
            out[k] = nested[k](v, where)
        elif k in _BLOB_FIELDS:
            out[k] = _blob(v, where)
        elif k in _TIMESTAMP_FIELDS:
            out[k] = _timestamp(v, where)
        else:
            out[k] = _native_to_ion(v)
    return out


def _list_of(convert: Callable[[Any, str], IonValue]) -> Callable[[Any, str], IonValue]:
    def conv(v: Any, path: str) -> IonValue:
        if not isinstance(v, list):
            return _native_to_ion(v)
        return IonPyList.from_value(IonType.LIST, [convert(x, f"{path}[{i}]") for i, x in enumerate(v)])

    return conv


def _struct_of(nested: dict[str, Callable[[Any, str], IonValue]]) -> Callable[[Any, str], IonValue]:
    def conv(v: Any, path: str) -> IonValue:
        return _retype(v, path, nested) if isinstance(v, dict) else _native_to_ion(v)

    return conv


_PLAIN = _struct_of({})
_REVISION = _struct_of({"data": lambda v, _: _native_to_ion(v), "metadata": _PLAIN})
_TX_INFO = _struct_of({"statements": _list_of(_PLAIN), "documents": lambda v, _: _native_to_ion(v)})
_BLOCK_FIELDS: dict[str, Callable[[Any, str], IonValue]] = {
    "entriesHashList": _list_of(_blob),
    "transactionInfo": _TX_INFO,
    "redactionInfo": _PLAIN,
    "revisions": _list_of(_REVISION),
}


def json_block_to_ion(obj: dict[str, Any]) -> IonValue:
    """Rebuild the Ion of a JSON export block, re-typing hashes as blobs and timestamps as timestamps.

    User data keeps the types JSON gave it, so its hash is not recomputable.

    Raises:
        FieldError: a hash is not base64 or a timestamp is not an Ion timestamp.
    """
    return _retype(obj, "", _BLOCK_FIELDS)


def _sniff_format(data: bytes, name: str) -> ExportFormat:
    if data.startswith(ION_BVM):
        return ExportFormat.ION_BINARY
    if name.endswith(".json") or data.lstrip()[:2] == b'{"':
        return ExportFormat.JSON
    return ExportFormat.ION_TEXT


def _block(value: IonValue, *, source: str, index: int, ion_exact: bool) -> Block:
    try:
        if ion_type(value) is not IonType.STRUCT:
            raise FieldError("a journal block is a struct")
        return block_from_ion(value, revisions_field="revisions", ion_exact=ion_exact)
    except (FieldError, AttributeError, TypeError) as exc:
        raise ExportParseError(str(exc), source=source, block=index) from None


def iter_export_blocks(data: bytes, *, source: str, fmt: ExportFormat | None = None) -> Iterator[Block]:
    """Parse one export data object into its blocks, in order.

    Args:
        data: the object's bytes.
        source: names the object in errors.
        fmt: the export's output format; sniffed from the bytes (and `.json` in `source`) when None.

    Raises:
        ExportParseError: the object is not Ion / JSON Lines, or a block is malformed; the error
            names `source` and the index of the block at fault.
    """
    fmt = fmt or _sniff_format(data, source)
    if fmt is ExportFormat.JSON:
        index = 0
        for line_no, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ExportParseError(
                    f"line {line_no} is not JSON: {exc}", source=source, block=index
                ) from None
            if not isinstance(obj, dict):
                raise ExportParseError(f"line {line_no} is not a JSON object", source=source, block=index)
            try:
                value = json_block_to_ion(obj)
            except FieldError as exc:
                raise ExportParseError(str(exc), source=source, block=index) from None
            yield _block(value, source=source, index=index, ion_exact=False)
            index += 1
        return
    problem = ion_bytes_problem(data)
    if problem is not None:
        raise ExportParseError(f"not Ion: {problem}", source=source)
    try:
        values = simpleion.loads(data, single_value=False)
    except Exception as exc:  # amazon-ion raises bare exceptions on bad bytes
        raise ExportParseError(f"not Ion ({type(exc).__name__}: {exc})", source=source) from None
    for index, value in enumerate(values):
        yield _block(value, source=source, index=index, ion_exact=True)


def find_exports(folder: Path) -> list[ExportInfo]:
    """The exports whose manifests sit directly in `folder`, by export id.

    Raises:
        ExportParseError: `folder` holds no completed manifest.
    """
    by_id: dict[str, list[Path]] = {}
    for p in sorted(folder.glob("*.completed.manifest")):
        m = _COMPLETED.match(p.name)
        by_id.setdefault(m["export_id"] if m else p.name.split(".", 1)[0], []).append(p)
    if not by_id:
        raise ExportParseError(
            "no <exportId>.<strandId>.completed.manifest here: the export is unfinished or this is not "
            "the export's prefix folder",
            source=str(folder),
        )
    out = []
    for export_id, completed in sorted(by_id.items()):
        started = folder / f"{export_id}{_STARTED_SUFFIX}"
        out.append(
            ExportInfo(
                folder=folder,
                export_id=export_id,
                completed=tuple(completed),
                started=started if started.is_file() else None,
            )
        )
    return out


def _resolve_key(folder: Path, key: str, manifest: Path) -> Path:
    """A manifest key is relative to the bucket root (it includes the prefix): try its suffixes."""
    parts = PurePosixPath(key).parts
    for i in range(len(parts)):
        candidate = folder.joinpath(*parts[i:])
        if candidate.is_file():
            return candidate
    raise ExportParseError(
        f"data object {key!r} listed in {manifest.name} is not under {folder}; copy the whole export prefix",
        source=str(manifest),
    )


def iter_export_objects(
    folder: Path, *, export_id: str | None = None
) -> Iterator[tuple[Path, ExportFormat | None]]:
    """The data objects of an export folder, in manifest order, with the export's format when known.

    Raises:
        ExportParseError: no or ambiguous manifests, or a listed data object is missing.
    """
    exports = find_exports(folder)
    if export_id is not None:
        exports = [e for e in exports if e.export_id == export_id]
        if not exports:
            raise ExportParseError(f"no completed manifest for export {export_id}", source=str(folder))
    if len(exports) > 1:
        ids = ", ".join(e.export_id for e in exports)
        raise ExportParseError(f"several exports here ({ids}): pass export_id", source=str(folder))
    info = exports[0]
    fmt: ExportFormat | None = None
    if info.started is not None:
        fmt = parse_started_manifest(info.started.read_bytes(), source=str(info.started)).output_format
    for manifest_path in info.completed:
        manifest = parse_completed_manifest(manifest_path.read_bytes(), source=str(manifest_path))
        for key in manifest.keys:
            yield _resolve_key(folder, key, manifest_path), fmt


def read_export_object(path: Path, fmt: ExportFormat | None = None) -> Iterator[Block]:
    """The blocks of one export data object file (format sniffed when `fmt` is None).

    Raises:
        ExportParseError: unreadable or malformed; names the file and the block index.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportParseError(f"cannot read: {exc.strerror}", source=str(path)) from None
    yield from iter_export_blocks(data, source=str(path), fmt=fmt or _sniff_format(data, path.name))


def read_export(folder: Path, *, export_id: str | None = None) -> Iterator[Block]:
    """Every block of an export folder, following its completed manifest(s) in order.

    Streams: one data object is read at a time. Strands (QLDB has one per journal) follow each
    other in strand id order.

    Args:
        folder: the export's prefix folder (holding the manifests).
        export_id: which export, when the folder holds several.

    Raises:
        ExportParseError: no or ambiguous manifests, a missing or malformed data object.
    """
    for path, fmt in iter_export_objects(folder, export_id=export_id):
        yield from read_export_object(path, fmt)


# ---- a guard for amazon-ion's C extension ------------------------------------------------------

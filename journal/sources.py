"""Find and read every kind of journal input `verify` accepts (docs/files.md), by shape.

Kinds: Kinesis record files (`*.jsonl`, one Kinesis record per line, data possibly KPL-aggregated),
Firehose transformation events (`*.json` with `records[].data`), single stream record or block
files (`*.ion`, `*.10n`: QLDB stream records, export-style block structs, revision structs),
journal export folders (holding `*.completed.manifest`), and saved AWS CLI outputs and receipts
(`get-digest`, `get-block`, `get-revision`). Folders are searched recursively; a simulator's
`truth/` folder is not journal data and is skipped.

Inputs are grouped into datasets, each verified on its own: all Kinesis files, all Firehose
events, all loose Ion files with the blocks and revisions of CLI outputs, and each export. Two
archives of the same ledger are two copies: merging them would let one hide the other's gaps.

An input whose kind cannot be told, or that cannot be opened, raises `UnknownInputError` when
it was named explicitly; inside a folder, files of no known kind are listed as ignored. A bad
record inside a usable file is not an error here: it is yielded as `UnreadableRecord`, and the
verifier reports it as a failed check.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType

from journal.errors import JournalError, UnknownInputError
from journal.export import find_exports, iter_export_objects, read_export_object
from journal.ion_framing import ion_bytes_problem
from journal.ion_values import FieldError, IonValue, get_field
from journal.kpl import deaggregate
from journal.proofs import (
    GetBlockOutput,
    GetRevisionOutput,
    LedgerDigest,
    Proof,
    Receipt,
    parse_saved_output,
    saved_output_kind,
)
from journal.records import (
    Block,
    BlockSummaryRecord,
    Revision,
    RevisionDetailsRecord,
    block_from_ion,
    iter_stream_records,
    revision_from_ion,
)

__all__ = [
    "Dataset",
    "DatasetKind",
    "Item",
    "Sources",
    "UnreadableRecord",
    "load_sources",
]

logger = logging.getLogger(__name__)

ION_BVM = b"\xe0\x01\x00\xea"
ION_SUFFIXES = frozenset({".ion", ".10n"})
SKIPPED_DIRS = frozenset({"truth"})
_SNIFF_BYTES = 65_536
_MAX_JSON_PARSE = 8 * 1024 * 1024  # Firehose events are under 6 MB; CLI outputs are small


class DatasetKind(StrEnum):
    """How a dataset's records arrive."""

    KINESIS = "kinesis"  # Kinesis record JSONL: any order, duplicates
    FIREHOSE = "firehose"  # Firehose transformation events: any order, duplicates
    FILES = "files"  # loose .ion/.10n files and CLI get-block / get-revision outputs
    EXPORT = "export"  # one journal export: blocks in order


@dataclass(frozen=True, slots=True)
class UnreadableRecord:
    """A record inside a usable input that cannot be parsed: the verifier reports it."""

    source: str
    reason: str


Item = Block | Revision | UnreadableRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    """One copy of journal data to verify on its own; `iter_items` reads it lazily."""

    name: str
    kind: DatasetKind
    paths: tuple[Path, ...]
    export_id: str | None = None

    @property
    def ordered(self) -> bool:
        """Whether blocks arrive in sequence order, each once (exports)."""
        return self.kind is DatasetKind.EXPORT

    def iter_items(self) -> Iterator[Item]:
        """Blocks, revisions and unreadable records, one file (or data object) at a time."""
        if self.kind is DatasetKind.EXPORT:
            yield from _iter_export(self.paths[0], self.export_id)
            return
        for path in self.paths:
            if self.kind is DatasetKind.KINESIS:
                yield from _iter_kinesis_file(path)
            elif self.kind is DatasetKind.FIREHOSE:
                yield from _iter_firehose_file(path)
            elif path.suffix in ION_SUFFIXES or _head(path).startswith(ION_BVM):
                yield from _iter_ion_file(path)
            else:
                yield from _iter_cli_file(path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sources:
    """Everything found under the given paths."""

    datasets: tuple[Dataset, ...]
    digests: tuple[LedgerDigest, ...]
    proofs: tuple[Proof, ...]
    ignored: tuple[Path, ...] = ()


class _Kind(StrEnum):
    KINESIS = "kinesis"
    FIREHOSE = "firehose"
    ION = "ion"
    CLI_DIGEST = "get-digest"
    CLI_BLOCK = "get-block"
    CLI_REVISION = "get-revision"
    RECEIPT = "receipt"


def _head(path: Path, n: int = _SNIFF_BYTES) -> bytes:
    try:
        with path.open("rb") as fp:
            return fp.read(n)
    except OSError as exc:
        raise UnknownInputError(f"cannot read it ({exc.strerror})", path=str(path)) from None


_EXPECTED = (
    "expected a Kinesis record file (.jsonl), a Firehose event (.json with records[].data), "
    "a stream record or block file (.ion, .10n), an AWS CLI get-digest/get-block/get-revision output "
    "or receipt (.json), or an export folder (with *.completed.manifest)"
)


def _classify(path: Path) -> _Kind | None:
    """The kind of a file, or None when it is of no known kind."""
    head = _head(path)
    if path.suffix in ION_SUFFIXES or head.startswith(ION_BVM):
        return _Kind.ION
    if path.suffix == ".jsonl":
        first = head.lstrip().split(b"\n", 1)[0]
        try:
            obj = json.loads(first)
        except ValueError:
            return None
        return _Kind.KINESIS if isinstance(obj, dict) and "data" in obj else None
    if path.suffix != ".json":
        return None
    if b'"records"' in head and (b'"recordId"' in head or b'"invocationId"' in head):
        return _Kind.FIREHOSE
    if path.stat().st_size > _MAX_JSON_PARSE:
        return None
    try:
        obj = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return None
    kind = saved_output_kind(obj)
    return None if kind is None else _Kind(kind)


@dataclass(slots=True)
class _Found:
    kinesis: list[Path]
    firehose: list[Path]
    files: list[Path]
    exports: list[tuple[Path, str]]
    digests: list[LedgerDigest]
    proofs: list[Proof]
    ignored: list[Path]


def load_sources(paths: Sequence[Path]) -> Sources:
    """Detect the kind of every input under `paths` and group them into datasets.

    Saved digests and proofs are read now (they are small); datasets are read lazily by
    `Dataset.iter_items`.

    Raises:
        UnknownInputError: a path is missing or unreadable, a named file is of no known kind, or
            nothing under `paths` is journal data.
        JournalError: a digest, proof or manifest is malformed.
    """
    found = _Found([], [], [], [], [], [], [])
    for path in paths:
        if not path.exists():
            raise UnknownInputError("no such file or folder; check the path", path=str(path))
        if path.is_dir():
            _walk(path, found)
        elif path.name.endswith(".completed.manifest"):
            _add_export_root(path.parent, found)
        else:
            kind = _classify(path)
            if kind is None:
                raise UnknownInputError(_EXPECTED, path=str(path))
            _add_file(path, kind, found)
    datasets: list[Dataset] = []
    if found.kinesis:
        datasets.append(_dataset("kinesis", DatasetKind.KINESIS, found.kinesis))
    if found.firehose:
        datasets.append(_dataset("firehose", DatasetKind.FIREHOSE, found.firehose))
    if found.files:
        datasets.append(_dataset("files", DatasetKind.FILES, found.files))
    for root, export_id in found.exports:
        datasets.append(
            Dataset(
                name=f"export {export_id} ({root})",
                kind=DatasetKind.EXPORT,
                paths=(root,),
                export_id=export_id,
            )
        )
    if not datasets and not found.proofs:
        where = ", ".join(str(p) for p in paths)
        raise UnknownInputError(f"nothing to verify: no journal data or proof found; {_EXPECTED}", path=where)
    return Sources(
        datasets=tuple(datasets),
        digests=tuple(_unique(found.digests)),
        proofs=tuple(found.proofs),
        ignored=tuple(found.ignored),
    )


def _unique(digests: list[LedgerDigest]) -> list[LedgerDigest]:
    seen: set[tuple[bytes, str, int]] = set()
    out = []
    for d in digests:
        key = (d.digest, d.tip.strand_id, d.tip.block_seq)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _dataset(label: str, kind: DatasetKind, files: list[Path]) -> Dataset:
    unique = tuple(dict.fromkeys(sorted(files)))
    where = str(unique[0]) if len(unique) == 1 else f"{len(unique):,} files under {_common_parent(unique)}"
    return Dataset(name=f"{label} ({where})", kind=kind, paths=unique)


def _common_parent(paths: Sequence[Path]) -> Path:
    parts = [p.parent.parts for p in paths]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return Path(*common) if common else Path(".")


def _add_export_root(root: Path, found: _Found) -> None:
    for info in find_exports(root):
        if (root, info.export_id) not in found.exports:
            found.exports.append((root, info.export_id))


def _walk(folder: Path, found: _Found) -> None:
    roots = sorted({m.parent for m in folder.rglob("*.completed.manifest") if not _skipped(m, folder)})
    for root in roots:
        _add_export_root(root, found)
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or _skipped(path, folder) or any(r == path or r in path.parents for r in roots):
            continue
        kind = _classify(path)
        if kind is None:
            found.ignored.append(path)
        else:
            _add_file(path, kind, found)


def _skipped(path: Path, top: Path) -> bool:
    rel = path.relative_to(top).parts
    return any(p in SKIPPED_DIRS or p.startswith(".") for p in rel)


def _add_file(path: Path, kind: _Kind, found: _Found) -> None:
    if kind is _Kind.KINESIS:
        found.kinesis.append(path)
    elif kind is _Kind.FIREHOSE:
        found.firehose.append(path)
    elif kind is _Kind.ION:
        _sniff_ion(path)
        found.files.append(path)
    else:
        out = parse_saved_output(path.read_bytes(), source=str(path))
        if isinstance(out, LedgerDigest):
            found.digests.append(out)
        elif isinstance(out, Receipt):
            found.proofs.append(out.proof)
        else:
            found.files.append(path)
            if out.proof is not None:
                found.proofs.append(out.proof)


def _sniff_ion(path: Path) -> None:
    """Fail now, naming the file, when its first Ion value is not journal data."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnknownInputError(f"cannot read it ({exc.strerror})", path=str(path)) from None
    problem = ion_bytes_problem(data)
    try:
        if problem is not None:
            raise ValueError(problem)
        values = simpleion.loads(data, single_value=False)
    except Exception as exc:  # amazon-ion raises bare exceptions on bad bytes
        raise UnknownInputError(f"not Ion ({exc}); {_EXPECTED}", path=str(path)) from None
    first = values[0] if values else None
    if first is None or _ion_shape(first) is None:
        raise UnknownInputError(
            "its first Ion value is not a QLDB stream record, journal block or revision", path=str(path)
        )


def _ion_shape(value: IonValue) -> str | None:
    if getattr(value, "ion_type", None) is not IonType.STRUCT:
        return None
    if get_field(value, "recordType") is not None:
        return "record"
    if get_field(value, "blockHash") is not None and get_field(value, "entriesHash") is not None:
        return "block"
    if get_field(value, "metadata") is not None and get_field(value, "hash") is not None:
        return "revision"
    return None


# ---- readers ----------------------------------------------------------------------------------


def _stream_items(data: bytes, *, source: str) -> Iterator[Item]:
    """The blocks and revisions of one Kinesis record's bytes (aggregated or not)."""
    try:
        users = deaggregate(data, source=source)
    except JournalError as exc:
        yield UnreadableRecord(source, str(exc))
        return
    for n, user in enumerate(users):
        where = source if len(users) == 1 else f"{source} user record #{n}"
        # Ion binary is framing-checked by the record parser; text must be checked here
        problem = None if user.data.startswith(ION_BVM) else ion_bytes_problem(user.data)
        if problem is not None:
            yield UnreadableRecord(where, f"not Ion: {problem}")
            continue
        try:
            for rec in iter_stream_records(user.data, source=where):
                if isinstance(rec, BlockSummaryRecord):
                    yield rec.block
                elif isinstance(rec, RevisionDetailsRecord):
                    yield rec.revision
        except JournalError as exc:
            yield UnreadableRecord(where, str(exc))


def _b64_field(obj: Any, name: str) -> bytes:
    if not isinstance(obj, dict) or not isinstance(obj.get(name), str):
        raise ValueError(f"no base64 {name!r} field")
    try:
        return base64.b64decode(obj[name], validate=True)
    except binascii.Error:
        raise ValueError(f"{name!r} is not base64") from None


def _iter_kinesis_file(path: Path) -> Iterator[Item]:
    with path.open("rb") as fp:
        for line_no, line in enumerate(fp, 1):
            if not line.strip():
                continue
            source = f"{path}:{line_no}"
            try:
                obj = json.loads(line)
                data = _b64_field(obj, "data")
            except ValueError as exc:
                yield UnreadableRecord(source, f"not a Kinesis record line: {exc}")
                continue
            seq = obj.get("sequenceNumber")
            yield from _stream_items(data, source=f"{source} (sequence number {seq})" if seq else source)


def _iter_firehose_file(path: Path) -> Iterator[Item]:
    try:
        event = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        yield UnreadableRecord(str(path), f"not a Firehose event: {exc}")
        return
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        yield UnreadableRecord(str(path), "not a Firehose event: no records list")
        return
    for i, rec in enumerate(records):
        rid = rec.get("recordId") if isinstance(rec, dict) else None
        source = f"{path} recordId {rid}" if rid else f"{path} records[{i}]"
        try:
            data = _b64_field(rec, "data")
        except ValueError as exc:
            yield UnreadableRecord(source, str(exc))
            continue
        yield from _stream_items(data, source=source)


def _iter_ion_file(path: Path) -> Iterator[Item]:
    source = str(path)
    data = path.read_bytes()
    problem = ion_bytes_problem(data)
    if problem is not None:
        yield UnreadableRecord(source, f"not Ion: {problem}")
        return
    try:
        values = simpleion.loads(data, single_value=False)
    except Exception as exc:  # amazon-ion raises bare exceptions on bad bytes
        yield UnreadableRecord(source, f"not Ion ({type(exc).__name__}: {exc})")
        return
    if values and _ion_shape(values[0]) == "record":
        yield from _stream_items(data, source=source)
        return
    for i, value in enumerate(values):
        where = f"{source} (Ion value #{i})"
        try:
            shape = _ion_shape(value)
            if shape == "block":
                yield block_from_ion(value, revisions_field="revisions")
            elif shape == "revision":
                yield revision_from_ion(value)
            else:
                yield UnreadableRecord(where, "not a QLDB stream record, journal block or revision")
        except (FieldError, AttributeError, TypeError) as exc:
            yield UnreadableRecord(where, str(exc))


def _iter_cli_file(path: Path) -> Iterator[Item]:
    try:
        out = parse_saved_output(path.read_bytes(), source=str(path))
    except JournalError as exc:
        yield UnreadableRecord(str(path), str(exc))
        return
    if isinstance(out, GetBlockOutput):
        yield out.block
    elif isinstance(out, GetRevisionOutput):
        yield out.revision


def _iter_export(root: Path, export_id: str | None) -> Iterator[Item]:
    try:
        objects = list(iter_export_objects(root, export_id=export_id))
    except JournalError as exc:
        yield UnreadableRecord(str(root), str(exc))
        return
    for path, fmt in objects:
        try:
            yield from read_export_object(path, fmt)
        except JournalError as exc:  # the rest of this object is lost; the next one is still read
            yield UnreadableRecord(str(path), str(exc))

"""Errors of the journal core; every error of the project derives from `QldbArchiveError`."""

from __future__ import annotations


class QldbArchiveError(Exception):
    """Base of every error qldb-archive raises on purpose (bad input, unusable configuration)."""


class JournalError(QldbArchiveError):
    """Input that cannot be read as QLDB journal data."""


class RecordParseError(JournalError):
    """A QLDB stream record (Kinesis payload) that cannot be parsed.

    Attributes:
        reason: what is wrong.
        source: the file, Kinesis sequence number or Firehose recordId the bytes came from.
        offset: the index of the Ion value at fault inside the record, when known.
    """

    def __init__(self, reason: str, *, source: str, offset: int | None = None) -> None:
        self.reason, self.source, self.offset = reason, source, offset
        where = source if offset is None else f"{source} (Ion value #{offset})"
        super().__init__(f"cannot parse QLDB stream record in {where}: {reason}")


class AggregationError(JournalError):
    """A KPL-aggregated Kinesis record that is corrupt (bad MD5, truncated or malformed protobuf).

    Never dropped and never partially decoded: the whole record is rejected so that the caller
    can keep its original bytes (for example under Firehose's error prefix).
    """

    def __init__(self, reason: str, *, source: str) -> None:
        self.reason, self.source = reason, source
        super().__init__(f"corrupt KPL aggregated record {source}: {reason}")


class ExportParseError(JournalError):
    """A journal export object or manifest that cannot be read."""

    def __init__(self, reason: str, *, source: str, block: int | None = None) -> None:
        self.reason, self.source, self.block = reason, source, block
        where = source if block is None else f"{source}, block #{block}"
        super().__init__(f"cannot read QLDB journal export {where}: {reason}")


class IonHashError(JournalError):
    """A value the Ion Hash specification does not define a hash for."""

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


class ProofParseError(JournalError):
    """A saved AWS CLI output (get-digest, get-block, get-revision) or receipt that cannot be read."""

    def __init__(self, reason: str, *, source: str) -> None:
        self.reason, self.source = reason, source
        super().__init__(f"cannot read QLDB digest or proof {source}: {reason}")


class UnknownInputError(JournalError):
    """A path `verify` cannot use: missing, unreadable, or of no kind it knows.

    Attributes:
        path: the path at fault.
        reason: what was found, and what was expected instead.
    """

    def __init__(self, reason: str, *, path: str) -> None:
        self.reason, self.path = reason, path
        super().__init__(f"cannot use {path}: {reason}")


class UserRecordTooLargeError(JournalError):
    """A user record that cannot fit any aggregate under the size limit.

    Attributes:
        index: position of the user record in the input.
        partition_key: its partition key.
        size: the size in bytes of an aggregate holding it alone.
        max_bytes: the limit.
    """

    def __init__(self, *, index: int, partition_key: str, size: int, max_bytes: int) -> None:
        self.index, self.partition_key, self.size, self.max_bytes = index, partition_key, size, max_bytes
        super().__init__(
            f"user record #{index} (partition key {partition_key!r}) needs a {size:,}-byte aggregate, "
            f"over the {max_bytes:,}-byte limit; split the record or raise max_bytes "
            "(a stream's maximum record size is configurable up to 10 MiB)"
        )

"""Errors of the Firehose transform: a record that cannot become archive rows, and why."""

from __future__ import annotations

from journal.errors import QldbArchiveError

__all__ = ["ResponseTooLargeError", "TransformError"]


class TransformError(QldbArchiveError):
    """A Firehose record that cannot be turned into archive rows.

    The handler marks the record ProcessingFailed, so Firehose keeps its original bytes under the
    error prefix; fix the cause and re-run it from there (`qldb-archive reprocess-errors`).

    Attributes:
        reason: what is wrong (never document data).
        record_id: the Firehose recordId at fault.
    """

    def __init__(self, reason: str, *, record_id: str) -> None:
        self.reason, self.record_id = reason, record_id
        super().__init__(f"cannot transform Firehose record {record_id}: {reason}")


class ResponseTooLargeError(TransformError):
    """The record's rows would push the Lambda response over its size limit.

    Attributes:
        size: bytes the record's result would add to the response.
        room: bytes left under the limit.
    """

    def __init__(self, *, record_id: str, size: int, room: int, limit: int) -> None:
        self.size, self.room, self.limit = size, room, limit
        super().__init__(
            f"its output ({size:,} bytes) does not fit in the {limit:,}-byte Lambda response "
            f"({room:,} bytes left); lower the Lambda processor's BufferSizeInMBs",
            record_id=record_id,
        )

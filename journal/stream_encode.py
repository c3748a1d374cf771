"""Journal blocks to the QLDB stream records QLDB would have streamed for them, in Ion binary.

Shared by the simulator (which streams the blocks it commits) and the backfill of journal
exports (which turns export blocks into the same records the Firehose transform reads). The
Ion values are the block's own, re-framed, so types and precision, and so every hash, are kept.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

from amazon.ion import simpleion

from journal.errors import JournalError
from journal.ion_build import ion_list, ion_string, ion_struct
from journal.ion_values import get_field
from journal.kpl import UserRecord

if TYPE_CHECKING:
    from journal.ion_values import IonValue
    from journal.records import Block

__all__ = ["SUMMARY_FIELDS", "block_stream_records", "stream_record"]

SUMMARY_FIELDS: Final = (
    "blockAddress",
    "transactionId",
    "blockTimestamp",
    "blockHash",
    "entriesHash",
    "previousBlockHash",
    "entriesHashList",
    "transactionInfo",
    "redactionInfo",
)
"""Fields a BLOCK_SUMMARY payload shares with an export block (then `revisionSummaries`)."""


@functools.lru_cache(maxsize=256)
def _constant(text: str) -> IonValue:
    """An Ion string shared by every record that repeats it (ARN, record type): never mutated."""
    return ion_string(text)


@functools.lru_cache(maxsize=256)
def _table_info(name: str, table_id: str) -> IonValue:
    return ion_struct({"tableName": ion_string(name), "tableId": ion_string(table_id)})


def stream_record(stream_arn: str, record_type: str, payload: IonValue) -> bytes:
    """One `{qldbStreamArn, recordType, payload}` stream record in Ion binary."""
    record = ion_struct(
        {"qldbStreamArn": _constant(stream_arn), "recordType": _constant(record_type), "payload": payload}
    )
    return bytes(simpleion.dumps(record, binary=True))


def block_stream_records(block: Block, *, stream_arn: str) -> list[UserRecord]:
    """The BLOCK_SUMMARY of `block`, then one REVISION_DETAILS per user revision, in block order.

    Partition keys are QLDB's: the transaction id for a BLOCK_SUMMARY, the document id for a
    REVISION_DETAILS. System revisions become hash-only revision summaries.

    Raises:
        JournalError: a user revision whose table the block's transactionInfo does not name.
    """
    fields: dict[str, IonValue] = {}
    for name in SUMMARY_FIELDS:
        value = get_field(block.ion, name)
        if value is not None:
            fields[name] = value
    summaries = []
    for item in get_field(block.ion, "revisions") or ():
        leaf: dict[str, IonValue] = {"hash": item["hash"]}
        metadata = get_field(item, "metadata")
        if metadata is not None:  # a user revision; without metadata, a hash-only system revision
            leaf["documentId"] = metadata["id"]
        summaries.append(ion_struct(leaf))
    fields["revisionSummaries"] = ion_list(summaries)
    out = [UserRecord(block.tx_id, stream_record(stream_arn, "BLOCK_SUMMARY", ion_struct(fields)))]
    for rev in block.revisions:
        if rev.table_name is None or rev.table_id is None:
            raise JournalError(f"{rev} has no table in its block's transactionInfo.documents")
        payload = ion_struct({"tableInfo": _table_info(rev.table_name, rev.table_id), "revision": rev.ion})
        out.append(UserRecord(rev.doc_id, stream_record(stream_arn, "REVISION_DETAILS", payload)))
    return out

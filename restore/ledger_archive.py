"""What the ledger targets read from the archive beyond the other targets: revision Ion, blocks, data hashes.

The ledger targets (`restore.targets.postgresql_ledger`, `restore.targets.qldb`) keep what the
SQL targets drop: each revision's lossless Ion text (exact Ion types, so hashes recompute), the
journal's blocks (hashes, entries, chain, the statements that created tables and indexes), and,
after a replay into a new QLDB ledger, the Ion hash of every current document's data to compare
with. The runner reads them only for a target whose capabilities ask (``revision_ion``,
``blocks``, ``data_hash_check``), with the SQL of ``restore/sql/ledger_*.sql`` on the local engine.

Blocks are attached to the batches of revisions they cover: a batch gets every block after the
previous batch up to its own last block, so blocks without user revisions travel with the next
batch, and the blocks after the last revision come as one batch without revisions.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from restore.batch import RevisionBatch, RevisionRow
from restore.errors import RestoreError
from restore.plan_sql import render_plan_query

if TYPE_CHECKING:
    import pyarrow as pa

    from athena.local import LocalEngine
    from journal.records import Block
    from restore.plan import Chunk

__all__ = [
    "BlockRow",
    "block_row_to_journal",
    "block_rows",
    "ExpectedData",
    "add_revision_ion",
    "attach_blocks",
    "read_blocks",
    "read_expected_data",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRow:
    """One journal block as the archive holds it (a BLOCK_SUMMARY row, de-duplicated).

    Attributes:
        block_seq: the block's sequence number.
        strand_id: its strand (one per journal).
        tx_id: its transaction id.
        block_timestamp: its commit time, UTC (naive, milliseconds).
        block_hash: base64 blockHash.
        entries_hash: base64 entriesHash.
        previous_block_hash: base64 previousBlockHash ('' for the first block).
        entries_hash_list: base64 entriesHashList, in order.
        statements_json: JSON of transactionInfo.statements (None in system blocks).
        revision_summaries_json: JSON of revisionSummaries, in order.
        transaction_info_ion: lossless Ion text of transactionInfo (None in system blocks).
        redaction_info_ion: lossless Ion text of redactionInfo, when the block redacted.
    """

    block_seq: int
    strand_id: str
    tx_id: str
    block_timestamp: dt.datetime
    block_hash: str
    entries_hash: str
    previous_block_hash: str
    entries_hash_list: tuple[str, ...]
    statements_json: str | None
    revision_summaries_json: str | None
    transaction_info_ion: str | None
    redaction_info_ion: str | None


@dataclass(frozen=True, slots=True)
class ExpectedData:
    """A current document of the archive and the Ion hash of its data (what a new ledger must hold).

    Attributes:
        table_name: the QLDB table.
        doc_id: the source document id.
        version: its current version.
        data_hash: `journal.ion_hash` of the revision's data (its dataHash when redacted).
    """

    table_name: str
    doc_id: str
    version: int
    data_hash: bytes


def _columns(engine: LocalEngine, name: str, params: Sequence[object]) -> tuple[int, dict[str, list[Any]]]:
    from athena.local import LOCAL_DATABASE

    table = engine.query(render_plan_query(name, database=LOCAL_DATABASE), params)
    return table.num_rows, {n: table.column(n).to_pylist() for n in table.column_names}


def block_row_to_journal(row: BlockRow) -> Block:
    """A block as the journal model: the struct QLDB's BLOCK_SUMMARY payload was, rebuilt from its columns.

    Raises:
        binascii.Error: a hash column is not base64.
        ValueError, KeyError, TypeError, JournalError: a column cannot be read back (it was changed).
    """
    from amazon.ion import simpleion

    from journal.ion_build import datetime_to_ms, ion_blob, ion_int, ion_list, ion_string, ion_struct
    from journal.ion_build import ion_timestamp_ms as ion_ts
    from journal.records import block_from_ion

    seq, strand, tx_id, stamp = row.block_seq, row.strand_id, row.tx_id, row.block_timestamp
    block_hash, entries_hash, previous = row.block_hash, row.entries_hash, row.previous_block_hash
    entries, summaries_json = row.entries_hash_list, row.revision_summaries_json
    tx_ion, red_ion = row.transaction_info_ion, row.redaction_info_ion
    summaries = []
    for s in json.loads(summaries_json or "[]"):
        fields = {"hash": ion_blob(_b64(s["hash"]))}
        if s.get("documentId") is not None:
            fields["documentId"] = ion_string(s["documentId"])
        summaries.append(ion_struct(fields))
    struct: dict[str, Any] = {
        "blockAddress": ion_struct({"strandId": ion_string(strand), "sequenceNo": ion_int(seq)}),
        "transactionId": ion_string(tx_id),
        "blockTimestamp": ion_ts(datetime_to_ms(stamp.replace(tzinfo=dt.UTC))),
        "blockHash": ion_blob(_b64(block_hash)),
        "entriesHash": ion_blob(_b64(entries_hash)),
        "entriesHashList": ion_list([ion_blob(_b64(h)) for h in entries]),
        "revisionSummaries": ion_list(summaries),
    }
    if previous:
        struct["previousBlockHash"] = ion_blob(_b64(previous))
    if tx_ion is not None:
        struct["transactionInfo"] = simpleion.loads(tx_ion)
    if red_ion is not None:
        struct["redactionInfo"] = simpleion.loads(red_ion)
    return block_from_ion(ion_struct(struct), revisions_field="revisionSummaries")


def _b64(text: str | None) -> bytes:
    return base64.b64decode(text or "", validate=True)


def block_rows(table: pa.Table | pa.RecordBatch) -> Iterator[BlockRow]:
    """`ledger_blocks`' rows as BlockRows, every copy, in the order given."""
    c = {n: table.column(n).to_pylist() for n in table.column_names}
    for i in range(table.num_rows):
        yield BlockRow(
            block_seq=c["block_seq"][i],
            strand_id=c["strand_id"][i],
            tx_id=c["tx_id"][i],
            block_timestamp=c["block_timestamp"][i],
            block_hash=c["block_hash"][i],
            entries_hash=c["entries_hash"][i],
            previous_block_hash=c["previous_block_hash"][i] or "",
            entries_hash_list=tuple(c["entries_hash_list"][i] or ()),
            statements_json=c["statements_json"][i],
            revision_summaries_json=c["revision_summaries_json"][i],
            transaction_info_ion=c["transaction_info_ion"][i],
            redaction_info_ion=c["redaction_info_ion"][i],
        )


def read_blocks(engine: LocalEngine, *, after: int, last: int) -> list[BlockRow]:
    """The archive's blocks after `after` up to `last` (inclusive), once each, in block order.

    Raises:
        RestoreError: two copies of one block differ (the archive was changed or mixes ledgers).
    """
    from athena.local import LOCAL_DATABASE

    blocks: list[BlockRow] = []
    for block in block_rows(
        engine.query(render_plan_query("ledger_blocks", database=LOCAL_DATABASE), [after, last])
    ):
        if blocks and blocks[-1].block_seq == block.block_seq:
            if blocks[-1] != block:
                raise RestoreError(
                    f"block {block.block_seq}: the archive holds two different copies of it (blockHash "
                    f"{blocks[-1].block_hash} and {block.block_hash}); run `qldb-archive verify` on the "
                    "archive's sources to find the true one"
                )
            continue
        blocks.append(block)
    return blocks


def add_revision_ion(engine: LocalEngine, rows: Sequence[RevisionRow], chunk: Chunk) -> list[RevisionRow]:
    """The chunk's rows with their lossless Ion text (`RevisionRow.revision_ion`) filled in.

    Raises:
        RestoreError: a revision has no Ion text in the archive (written by an older transform).
    """
    n, c = _columns(engine, "ledger_revision_ion", [chunk.first_block, chunk.last_block])
    ion: dict[tuple[str, int, bool], str] = {}
    for i in range(n):
        text = c["revision_ion"][i]
        if text is not None:
            ion.setdefault((c["doc_id"][i], c["version"][i], bool(c["is_redacted"][i])), text)
    out = []
    for row in rows:
        text = ion.get((row.doc_id, row.version, row.is_redacted))
        if text is None:
            raise RestoreError(
                f"document {row.doc_id} version {row.version} (block {row.block_seq}): the archive has "
                "no revision_ion for it, and a ledger target needs the exact Ion; re-archive its "
                "records with `qldb-archive backfill`"
            )
        out.append(dataclasses.replace(row, revision_ion=text))
    return out


def attach_blocks(batches: Iterable[RevisionBatch], blocks: Sequence[BlockRow]) -> list[RevisionBatch]:
    """Give each batch the blocks after the previous batch up to its last block (see the module doc).

    `blocks` are those of the batches' range, in order; those after the last batch become one
    more batch without revisions.

    >>> from restore.batch import RevisionBatch
    >>> b = [BlockRow(block_seq=s, strand_id="S", tx_id="t", block_timestamp=dt.datetime(2020, 1, 1),
    ...      block_hash="h", entries_hash="e", previous_block_hash="", entries_hash_list=(),
    ...      statements_json=None, revision_summaries_json=None, transaction_info_ion=None,
    ...      redaction_info_ion=None) for s in (3, 4, 5, 6)]
    >>> [[x.block_seq for x in r.blocks] for r in attach_blocks([RevisionBatch((), 4, 5)], b)]
    [[3, 4, 5], [6]]
    """
    out: list[RevisionBatch] = []
    start = 0
    for batch in batches:
        end = start
        while end < len(blocks) and blocks[end].block_seq <= batch.last_block_seq:
            end += 1
        part = tuple(blocks[start:end])
        first = part[0].block_seq if part else batch.first_block_seq
        out.append(dataclasses.replace(batch, blocks=part, first_block_seq=first))
        start = end
    rest = tuple(blocks[start:])
    if rest:
        out.append(RevisionBatch((), rest[0].block_seq, rest[-1].block_seq, blocks=rest))
    return out


def read_expected_data(engine: LocalEngine, *, block_cut: int) -> Iterator[ExpectedData]:
    """Every current document at `block_cut` with the Ion hash of its data, from its revision's Ion.

    Raises:
        RestoreError: a current revision has no Ion text, or its Ion cannot be read.
    """
    from amazon.ion import simpleion

    from journal.errors import QldbArchiveError
    from journal.ion_hash import ion_hash
    from journal.records import revision_from_ion

    n, c = _columns(engine, "ledger_current_ion", [block_cut, block_cut])
    for i in range(n):
        doc_id, version, text = c["doc_id"][i], c["version"][i], c["revision_ion"][i]
        try:
            if text is None:
                raise QldbArchiveError("no revision_ion")
            rev = revision_from_ion(simpleion.loads(text))
            data_hash = ion_hash(rev.data) if rev.data is not None else rev.data_hash
        except (QldbArchiveError, ValueError) as exc:
            raise RestoreError(
                f"document {doc_id} version {version}: cannot read its revision Ion in the archive "
                f"({type(exc).__name__}); run `qldb-archive verify` on the archive's sources"
            ) from None
        if data_hash is not None:
            yield ExpectedData(c["table_name"][i], doc_id, version, data_hash)

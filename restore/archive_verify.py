"""Verify the Parquet archive itself: revision and block hashes, chain and digest, from the archive alone.

The archive keeps, beside the queryable columns, what the hashes are computed from: each
revision's lossless Ion text (``revision_ion``) and each block summary's hashes, entries hash
list, revision summaries and transactionInfo Ion. Rebuilt as the journal model, they go through
the same checks as stream records (`journal.verify`): every copy, in archive order, as Kinesis
delivered them, so a duplicate is folded and two copies that differ are a finding. A revision
whose Ion text cannot be read back is reported, not skipped.

Memory: the rows are read in record batches (the engine's memory is capped); the verifier keeps
~250 bytes per revision until the end, as for any stream archive (README, known limits).
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from amazon.ion import simpleion

from journal.errors import JournalError
from journal.ion_values import FieldError
from journal.progress import NULL_PROGRESS, ProgressReporter
from journal.records import revision_from_ion
from journal.sources import UnreadableRecord
from journal.urls import redact_url
from journal.verify import verify_items
from restore.ledger_archive import block_row_to_journal, block_rows
from restore.plan_sql import render_plan_query

if TYPE_CHECKING:
    from athena.local import LocalEngine
    from journal.proofs import LedgerDigest
    from journal.sources import Item
    from journal.verify import VerificationReport

__all__ = ["is_archive", "verify_archive"]

_ENGINE_MEMORY: Final = "320MB"
_ROWS_PER_BATCH: Final = 20_000
_REVISIONS_SQL: Final = (
    "SELECT r.table_name, r.table_id, r.doc_id, r.version, r.block_seq, r.firehose_record_id, r.revision_ion "
    "FROM revisions AS r ORDER BY r.block_seq"
)


def is_archive(location: str) -> bool:
    """True for an ``s3://`` URL or a folder holding the archive's ``p_ledger=`` partitions.

    >>> is_archive("s3://bucket/qldb/"), is_archive("get-digest.json")
    (True, False)
    """
    if location.startswith("s3://"):
        return True
    path = Path(location)
    return path.is_dir() and any(p.is_dir() and p.name.startswith("p_ledger=") for p in path.iterdir())


def _revisions(engine: LocalEngine) -> Iterator[Item]:
    for batch in engine.query_batches(_REVISIONS_SQL, rows=_ROWS_PER_BATCH):
        c = {n: batch.column(n).to_pylist() for n in batch.column_names}
        for i in range(batch.num_rows):
            where = (
                f"archive revision {c['doc_id'][i]} v{c['version'][i]} (block {c['block_seq'][i]}, "
                f"Firehose record {c['firehose_record_id'][i]})"
            )
            text = c["revision_ion"][i]
            if text is None:
                yield UnreadableRecord(where, "its revision_ion column is empty")
                continue
            try:
                yield revision_from_ion(
                    simpleion.loads(text), table_name=c["table_name"][i], table_id=c["table_id"][i]
                )
            except (FieldError, ValueError, TypeError, JournalError) as exc:
                yield UnreadableRecord(where, f"its revision_ion cannot be read: {exc}")


def _blocks(engine: LocalEngine) -> Iterator[Item]:
    from athena.local import LOCAL_DATABASE

    sql = render_plan_query("ledger_blocks", database=LOCAL_DATABASE)
    for batch in engine.query_batches(sql, [-1, 1 << 62], rows=_ROWS_PER_BATCH):
        for row in block_rows(batch):
            try:
                yield block_row_to_journal(row)
            except (ValueError, KeyError, TypeError, binascii.Error, JournalError) as exc:
                yield UnreadableRecord(
                    f"archive block {row.block_seq} (blockHash {row.block_hash})",
                    f"its columns cannot be read back ({type(exc).__name__}: {exc})",
                )


def verify_archive(
    archive: str | Path,
    *,
    digests: Sequence[LedgerDigest] = (),
    endpoint_url: str | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
    max_findings: int = 20,
) -> VerificationReport:
    """Recompute every hash of the archive and its chain; compare the digest with saved ones.

    Args:
        archive: the archive root, a folder or ``s3://bucket/prefix``.
        digests: saved ``get-digest`` outputs (`journal.proofs.load_digest_file`).
        endpoint_url: the S3 endpoint, None for AWS.
        progress: receives the verification as one task.
        max_findings: how many findings the report lists.

    Raises:
        StorageError: the archive cannot be listed.
        LocalQueryError: the archive cannot be read.
    """
    from athena.local import LocalEngine

    with LocalEngine.open(archive, endpoint_url=endpoint_url, memory_limit=_ENGINE_MEMORY) as engine:

        def items() -> Iterator[Item]:
            yield from _blocks(engine)
            yield from _revisions(engine)

        return verify_items(
            items(),
            digests=digests,
            name=f"archive {redact_url(str(archive))}",
            max_findings=max_findings,
            progress=progress,
        )

"""Which verifier an input needs: journal inputs, the Parquet archive, or a ledger-grade database.

`qldb-archive verify` takes any of them; this is the one call behind it, so the command only
parses and renders. Saved ``get-digest`` outputs go with every kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from journal.errors import QldbArchiveError
from journal.progress import NULL_PROGRESS, ProgressReporter

if TYPE_CHECKING:
    from journal.verify import VerificationReport
    from restore.ledger_verify import LedgerVerificationReport

__all__ = ["verify_inputs"]


def verify_inputs(
    inputs: Sequence[str],
    *,
    archive: str | None = None,
    digest_paths: Sequence[Path] = (),
    endpoint_url: str | None = None,
    progress: ProgressReporter = NULL_PROGRESS,
) -> VerificationReport | LedgerVerificationReport:
    """Verify `inputs` with the saved digests of `digest_paths`.

    `inputs` is one ``postgresql://`` URL (with `archive` to compare it with), one Parquet archive
    (a folder or ``s3://`` URL, with saved digests beside it), or journal files and folders.

    Raises:
        QldbArchiveError: the inputs mix kinds, or one is unusable (it names which).
    """
    from journal.proofs import read_digest_files
    from restore.archive_verify import is_archive, verify_archive
    from restore.ledger_verify import is_database_url, verify_target

    databases = [i for i in inputs if is_database_url(i)]
    if databases:
        if len(inputs) != 1:
            raise QldbArchiveError("give one postgresql:// URL alone (digests with --digest)")
        return verify_target(
            databases[0],
            archive=archive,
            digest_paths=digest_paths,
            endpoint_url=endpoint_url,
            progress=progress,
        )
    if archive is not None:
        raise QldbArchiveError("--archive goes with a postgresql:// URL to verify")
    archives = [i for i in inputs if is_archive(i)]
    if archives:
        if len(archives) != 1:
            raise QldbArchiveError("give one archive at a time: two copies would hide each other's gaps")
        others = [Path(i) for i in inputs if i not in archives]  # saved get-digest outputs
        return verify_archive(
            archives[0],
            digests=read_digest_files([*others, *digest_paths]),
            endpoint_url=endpoint_url,
            progress=progress,
        )
    from journal.verify import verify_paths

    return verify_paths([*map(Path, inputs), *digest_paths], progress=progress)

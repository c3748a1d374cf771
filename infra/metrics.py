"""The CloudWatch metrics the stack defines itself (namespace and names), shared by jobs and alarms.

The parity job's container publishes `PARITY_DIFFERENCES` (infra/docker/parity_job.py reads the
same names from its environment); a metric filter on the transformation Lambda's log group
counts `PROCESSING_FAILED_RECORDS` from the handler's ``record failed`` lines.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NAMESPACE", "PARITY_DIFFERENCES", "PROCESSING_FAILED_PATTERN", "PROCESSING_FAILED_RECORDS"]

NAMESPACE: Final = "QldbArchive"
PARITY_DIFFERENCES: Final = "ParityDifferences"
"""Documents that differ between the target database and the archive, per parity run."""
PROCESSING_FAILED_RECORDS: Final = "ProcessingFailedRecords"
"""Firehose records the transformation Lambda marked ProcessingFailed."""
PROCESSING_FAILED_PATTERN: Final = '{ $.message = "record failed" }'
"""The handler's warning per failed record (firehose_transform/handler.py, `_log_failure`)."""

"""The scheduled parity job: run ``qldb-archive parity``, publish the number of differences to CloudWatch.

Runs in the jobs' container (infra/Dockerfile) as ``python /app/parity_job.py``. The archive and
target URLs come from the environment (``QLDB_ARCHIVE_URL``, and ``QLDB_ARCHIVE_TARGET_URL``
injected from Secrets Manager), which ``qldb-archive parity`` reads itself: they are never on a
command line, so the credentials in the URL appear in no task definition, log or process listing.
The task definition also sets ``QLDB_ARCHIVE_PARITY_CACHE`` (a prefix of the archive bucket, the
only place the task may write) and ``QLDB_ARCHIVE_PARITY_REBUILD_DAYS``, which the CLI reads too:
most runs read only the archive objects added since the last one, and one run a week reads them
all (docs/parity.md). The report it logs says which in its ``cache`` field.

The CLI's exit code says the outcome (0 equal, 1 differs, 2 unusable input). On 0 and 1 the job
publishes ``<namespace>/<metric>`` (``QldbArchive/ParityDifferences``): the count of differing
documents from the ``--json`` report (its ``differences``, a count or a list), else 1 when it
differs. On 2 (or a crash) it publishes nothing: the alarm treats a missing datapoint as
breaching, so a parity check that cannot run pages as surely as one that fails. The job exits
with the CLI's code, so ECS records the outcome too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

__all__ = ["count_differences", "main"]


def count_differences(exit_code: int, report: str) -> int | None:
    """The number to publish: None when the check did not complete (exit code other than 0 or 1).

    >>> count_differences(0, ""), count_differences(1, '{"differences": [1, 2, 3]}'), count_differences(2, "")
    (0, 3, None)
    >>> count_differences(1, "not json")
    1
    """
    if exit_code not in (0, 1):
        return None
    try:
        data: Any = json.loads(report)
    except ValueError:
        data = None
    found = data.get("differences") if isinstance(data, dict) else None
    if isinstance(found, bool) or found is None:
        return 0 if exit_code == 0 else 1
    count = found if isinstance(found, int) else len(found) if isinstance(found, list) else 1
    return max(count, 0 if exit_code == 0 else 1)


def main() -> int:
    """Run the check, publish the metric, return the CLI's exit code."""
    for name in ("QLDB_ARCHIVE_URL", "QLDB_ARCHIVE_TARGET_URL"):
        if not os.environ.get(name):
            print(f"error: {name} is not set", file=sys.stderr)
            return 2
    namespace = os.environ.get("QLDB_ARCHIVE_METRIC_NAMESPACE", "QldbArchive")
    metric = os.environ.get("QLDB_ARCHIVE_PARITY_METRIC", "ParityDifferences")
    done = subprocess.run(["qldb-archive", "parity", "--json"], stdout=subprocess.PIPE, text=True)
    sys.stdout.write(done.stdout)  # the report names the differing documents, never their data
    count = count_differences(done.returncode, done.stdout)
    if count is not None:
        import boto3

        boto3.client("cloudwatch").put_metric_data(
            Namespace=namespace, MetricData=[{"MetricName": metric, "Value": float(count), "Unit": "Count"}]
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())

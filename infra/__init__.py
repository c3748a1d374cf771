"""infra: the AWS CDK app (Python) of the whole pipeline; `infra.app` composes it, docs/deploy.md explains it.

Imports `firehose_transform` and `athena` for the schema and SQL; nothing imports `infra` but its tests.
"""

from __future__ import annotations

__all__: list[str] = []

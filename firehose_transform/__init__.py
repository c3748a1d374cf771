"""The archive transform: the Firehose Lambda handler, the normaliser and the archive schema.

`schema` is the one definition of the archive's columns (Glue, Arrow and the Lambda's JSON all
derive from it); `normalise` turns QLDB stream records into rows; `handler` is the Lambda entry
point (``firehose_transform.handler.lambda_handler``), not imported here so that readers of the
schema (infra, athena) do not load Powertools.
"""

from __future__ import annotations

from firehose_transform.errors import ResponseTooLargeError, TransformError
from firehose_transform.normalise import (
    KinesisRecordMetadata,
    NormalisedRecord,
    ion_to_ion_text,
    ion_to_json,
    ion_to_json_text,
    normalise_payload,
)
from firehose_transform.schema import (
    COLUMNS,
    PARTITION_KEYS,
    SCHEMA_VERSION,
    ArchiveRow,
    Column,
    Kind,
    PartitionKeys,
    RecordType,
    arrow_schema,
    columns_for,
    glue_types,
    ndjson_to_arrow,
    partition_value,
)

__all__ = [
    "COLUMNS",
    "PARTITION_KEYS",
    "SCHEMA_VERSION",
    "ArchiveRow",
    "Column",
    "KinesisRecordMetadata",
    "Kind",
    "NormalisedRecord",
    "PartitionKeys",
    "RecordType",
    "ResponseTooLargeError",
    "TransformError",
    "arrow_schema",
    "columns_for",
    "glue_types",
    "ion_to_ion_text",
    "ion_to_json",
    "ion_to_json_text",
    "ndjson_to_arrow",
    "normalise_payload",
    "partition_value",
]

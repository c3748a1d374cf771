CREATE OR REPLACE VIEW main.vehicle_typed AS
SELECT
  ledger,
  doc_id,
  version,
  tx_time,
  block_seq,
  data_json ->> '$.VIN' AS "VIN",
  CAST(data_json ->> '$.Year' AS BIGINT) AS "Year",
  CAST(data_json ->> '$.Weight' AS DOUBLE) AS "Weight",
  CAST(data_json ->> '$.Active' AS BOOLEAN) AS "Active",
  CAST(TO_JSON(data_json -> '$.Owners') AS TEXT) AS "Owners",
  data_json ->> '$."it''s a \"name\""' AS "it's a ""name"""
FROM main.current
WHERE
  table_name = 'Vehicle'

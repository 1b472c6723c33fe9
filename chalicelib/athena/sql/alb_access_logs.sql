-- opswatch's ALB access-log table: one column per field of every line generation, partition-projected
-- by day so a query reads only the days it asks for. Filled in by `opswatch athena setup`.
CREATE EXTERNAL TABLE IF NOT EXISTS {database}.alb_access_logs (
{columns}
)
PARTITIONED BY (day string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
WITH SERDEPROPERTIES (
    'serialization.format' = '1',
    'input.regex' = '{regex}'
)
LOCATION '{location}'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.day.type' = 'date',
    'projection.day.range' = '{start_date},NOW',
    'projection.day.format' = 'yyyy/MM/dd',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = 'DAYS',
    'storage.location.template' = '{location}${day}'
)

-- opswatch's ALB access-log table: one column per field of every line generation, partition-projected
-- by account, Region and day, so a query reads only the accounts, Regions and days it asks for (a central
-- bucket holds every account's AWSLogs/<account>/elasticloadbalancing/<region>/). Filled in by
-- `opswatch athena setup`, which replaces the table (the logs in S3 are untouched).
CREATE EXTERNAL TABLE {database}.alb_access_logs (
{columns}
)
PARTITIONED BY (account string, region string, day string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
WITH SERDEPROPERTIES (
    'serialization.format' = '1',
    'input.regex' = '{regex}'
)
LOCATION '{location}'
TBLPROPERTIES (
    'projection.enabled' = 'true',
{account_projection}
{region_projection}
    'projection.day.type' = 'date',
    'projection.day.range' = '{start_date},NOW',
    'projection.day.format' = 'yyyy/MM/dd',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = 'DAYS',
    'storage.location.template' = '{template}'
)

-- The Glue database opswatch's ALB table lives in.
CREATE DATABASE IF NOT EXISTS {database}

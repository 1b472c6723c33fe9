"""Athena over the ALB log bucket: the table, named queries, and a local engine that runs them too."""

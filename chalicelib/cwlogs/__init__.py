"""CloudWatch Logs: the PutLogEvents batching rules and the client that ships batches."""

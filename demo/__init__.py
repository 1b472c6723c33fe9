"""``make demo``: opswatch on the embedded default, no AWS account needed."""

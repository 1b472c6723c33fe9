"""The ``opswatch`` command: the work done from a laptop, on the same services as the Lambdas."""

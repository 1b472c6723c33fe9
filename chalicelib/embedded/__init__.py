"""The embedded default: local stand-ins for AWS so nobody needs an account to try opswatch.

Used by ``make demo``, the tests and the benchmarks; never imported by ``app.py``.
"""

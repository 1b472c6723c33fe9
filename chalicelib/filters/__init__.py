"""CloudWatch Logs filter patterns, reproduced locally: test a metric filter before it goes live.

``compile_pattern(text).test(messages)`` answers as CloudWatch's TestMetricFilter does.
"""

from chalicelib.filters.pattern import FilterPattern, PatternError, compile_pattern, sample_problems

__all__ = ["FilterPattern", "PatternError", "compile_pattern", "sample_problems"]

"""Monitors as code: metric filters and alarms, tested locally before they go live."""

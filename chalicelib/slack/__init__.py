"""Slack: how every opswatch flow talks to people (messages, limits, delivery)."""

"""The alarm bridge: CloudWatch alarms arriving through SNS, turned into readable Slack messages."""

"""Log alerts: CloudWatch Logs subscription events -> rules -> one grouped Slack message per rule."""

"""Acting from Slack: the signed ``POST /slack/actions`` endpoint, its worker, and what each button does."""

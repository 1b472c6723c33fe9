"""The ALB access-log record: field names, in log order, and their JSON types.

The names are the column names of AWS's Athena table for ALB access logs, so a
user who learns them once can use them in CloudWatch JSON events, metric filter
patterns (``{ $.elb_status_code >= 500 }``), the Athena table and the named
queries alike.
"""

from __future__ import annotations

# Every field of the current format, in the order the record's JSON object lists them.
FIELDS: tuple[str, ...] = (
    "type",
    "time",
    "elb",
    "client_ip",
    "client_port",
    "target_ip",
    "target_port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request_verb",
    "request_url",
    "request_proto",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "lambda_error_reason",
    "target_port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
    "transformed_host",
    "transformed_uri",
    "request_transform_status",
)

INT_FIELDS = frozenset(
    {
        "client_port",
        "target_port",
        "elb_status_code",
        "target_status_code",
        "received_bytes",
        "sent_bytes",
        "matched_rule_priority",
    }
)
FLOAT_FIELDS = frozenset({"request_processing_time", "target_processing_time", "response_processing_time"})

# Name of the key that carries fields AWS appends after the last known one.
EXTRA_FIELDS = "extra_fields"

"""The Athena named queries' questions, asked of the shipped ALB events in Logs Insights' language.

The events carry the Athena table's column names (``elb_status_code``, ``request_url``,
``target_processing_time``, ...), so each query reads like its SQL twin in
``chalicelib/athena/sql/queries/``. The dashboards' ``logs`` section shows them as
Logs Insights widgets, and ``monitors apply`` saves them as query definitions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    name: str  # the Athena named query it mirrors
    title: str
    query: str


QUESTIONS = (
    Question(
        "top_5xx_paths",
        "5xx by path",
        "filter elb_status_code >= 500"
        r" | parse request_url /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\/?#]*(?<path>\/[^?#]*)/"
        " | stats count(*) as requests by path"
        " | sort requests desc"
        " | limit 20",
    ),
    Question(
        "slowest_targets",
        "Slowest targets (p99 target processing time)",
        "filter target_processing_time >= 0 and ispresent(target_ip)"
        " | stats count(*) as requests, pct(target_processing_time, 50) as p50,"
        " pct(target_processing_time, 90) as p90, pct(target_processing_time, 99) as p99 by target_ip, target_port"
        " | sort p99 desc"
        " | limit 20",
    ),
    Question(
        "top_client_ips",
        "Top clients",
        "stats count(*) as requests by client_ip | sort requests desc | limit 20",
    ),
    Question(
        "status_codes",
        "Status codes",
        "stats count(*) as requests by elb_status_code | sort requests desc",
    ),
)

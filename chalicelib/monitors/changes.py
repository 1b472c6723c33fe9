"""What a plan is made of: a resource opswatch manages, a change to it, the plan; and whose log group is whose.

Shared by the three planners (``monitors/plan.py`` for metric filters and alarms,
``dashboards/plan.py``, ``insights/plan.py``). It sits below them, so the
monitors planner can call the other two without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Resource:
    kind: str  # "metric filter" | "alarm" | "dashboard" | "query definition"
    name: str  # live name (filters: with the prefix)
    log_group: str | None
    params: dict  # the Put call's arguments
    line: int = 0  # where the spec declares it
    backtest_hours: float | None = None
    url: str | None = None  # the console page (dashboards)


@dataclass
class Change:
    action: str  # create | update | delete
    resource: Resource
    diffs: list[tuple[str, object, object]] = field(default_factory=list)
    note: str = ""

    @property
    def label(self) -> str:
        where = f" ({self.resource.log_group})" if self.resource.log_group else ""
        return f"{self.resource.kind} {self.resource.name}{where}"


@dataclass
class Plan:
    changes: list[Change]
    stale: list[Resource]  # managed, not in the spec: deleted by apply --prune
    notes: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]


def other_stage_group(group: str, stage: str) -> bool:
    """``/opswatch/<other>/alb``: another stage's own ALB log group, which this stage's prune leaves alone."""
    parts = group.split("/")
    return len(parts) == 4 and parts[:2] == ["", "opswatch"] and parts[3] == "alb" and parts[2] != stage

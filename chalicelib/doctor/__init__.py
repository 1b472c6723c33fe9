"""``opswatch doctor``: every piece of a deployed stage checked read-only, each with the step that mends it.

A stage is wired by hand in several steps (the resources stack, the Slack secret,
``chalice deploy``, ``failed setup``, access logs, alarm actions, ``logs subscribe``,
``monitors apply``, ``athena setup``); a step left half-done makes opswatch silent, the
worst failure a monitoring tool can have. Each module here holds the checks of one flow;
``runner`` runs them concurrently and turns any AWS refusal into an honest ``skip``.
"""

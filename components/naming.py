"""Physical names the stack sets itself.

Names of KMS aliases, alarms, dashboards, log groups, functions, queues and tables are unique per
account and region. Two deployments of one stack name in the same account (a fork's ``org/dev``
beside ``me/dev``) must not share any: the second ``pulumi up`` would fail with AlreadyExists or,
worse, silently take over the first one's dashboard, and either ``pulumi destroy`` would delete
it. So every such name carries a random suffix owned by the component (``random.RandomId``), or
is left to Pulumi's autonaming. ``tests/unit/test_naming.py`` checks the whole graph.
"""

import re

_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def physical_base(project: str, stack: str, *parts: str) -> str:
    """``<project>-<stack>-<part>…`` with every character outside ``[A-Za-z0-9_-]`` (a stack name
    may contain ``.``) replaced by ``-``: valid in KMS aliases, dashboards, alarms and Lambda names."""
    return _NOT_NAME.sub("-", "-".join((project, stack, *parts))).strip("-")

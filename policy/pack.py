"""CrossGuard policies built from ``policy.rules.RULES`` (Policy objects only; no server).

``PolicyPack(...)`` itself is constructed in ``policy/__main__.py`` because it starts the gRPC
server and blocks forever. Building the ``Policy`` objects here keeps the CrossGuard wiring
importable and testable: a test can call ``policy.validate(args, report)`` exactly as the
analyzer does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rules import RULES, ResourceRule, Rule, StackRule
from policy.view import from_crossguard

PACK_NAME = "imgpipe"


def _resource_validate(rule: ResourceRule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    check = rule.check
    types = frozenset(rule.resource_types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for message in check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def _stack_validate(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    check = rule.check

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [from_crossguard(r) for r in args.resources]
        for violation in check(resources):
            report_violation(violation.message, violation.urn)

    return validate


def _policy(rule: Rule) -> Policy:
    """The CrossGuard policy of one rule: only the ``validate`` callback depends on its kind."""
    common: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": EnforcementLevel(rule.enforcement),
        "remediation_steps": rule.remediation or None,
    }
    if isinstance(rule, ResourceRule):
        return ResourceValidationPolicy(validate=_resource_validate(rule), **common)
    return StackValidationPolicy(validate=_stack_validate(rule), **common)


def build_policies() -> list[Policy]:
    """One CrossGuard policy per rule, in ``RULES`` order."""
    return [_policy(r) for r in RULES]

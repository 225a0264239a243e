"""CrossGuard policies built from ``policy.rules.RULES`` (Policy objects only; no server).

``PolicyPack(...)`` itself is constructed in ``policy/__main__.py`` because it starts the gRPC
server and blocks forever. Building the ``Policy`` objects here keeps the CrossGuard wiring
importable and testable: a test can call ``policy.validate(args, report)`` exactly as the
analyzer does.
"""

from __future__ import annotations

from collections.abc import Callable

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rules import RULES, ResourceCheck, Rule, StackCheck
from policy.view import from_crossguard

PACK_NAME = "imgpipe"


def _resource_validate(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    check: ResourceCheck = rule.check  # type: ignore[assignment]
    types = frozenset(rule.resource_types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for message in check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def _stack_validate(rule: Rule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    check: StackCheck = rule.check  # type: ignore[assignment]

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [from_crossguard(r) for r in args.resources]
        for violation in check(resources):
            report_violation(violation.message, violation.urn)

    return validate


def _policy(rule: Rule) -> Policy:
    """The CrossGuard policy of one rule: only the ``validate`` callback depends on its kind."""
    policy_cls: type[ResourceValidationPolicy] | type[StackValidationPolicy]
    validate: Callable[..., None]
    if rule.kind == "resource":
        policy_cls, validate = ResourceValidationPolicy, _resource_validate(rule)
    else:
        policy_cls, validate = StackValidationPolicy, _stack_validate(rule)
    return policy_cls(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(rule.enforcement),
        remediation_steps=rule.remediation or None,
    )


def build_policies() -> list[Policy]:
    """One CrossGuard policy per rule, in ``RULES`` order."""
    return [_policy(r) for r in RULES]

"""The redeploy trigger of a REST API: a hash of the inputs of every child that shapes what it serves.

An ``aws.apigateway.Deployment`` is a snapshot: the stage keeps serving it until a new deployment
is created ("every time you update an API, you must redeploy it to an existing stage or to a new
stage": https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-deploy-api.html), and
the provider creates one only when the Deployment's inputs (``triggers``) change. A hand-kept
summary of the API misses changes: an integration's request template or timeout, an
integration response's template, a gateway response's template.

So the trigger is derived from the children themselves: :class:`DeploymentSnapshot` is a
transformation on the API component, called for every child as it is registered, and it keeps the
inputs of every ``aws:apigateway/*`` child (resources, methods, integrations, method and
integration responses, gateway responses, validators, models, authorizers, any kind added later)
and of the Lambda permissions API Gateway invokes with. Only the kinds that are not part of a
deployment's snapshot are left out, by name (:data:`NOT_IN_SNAPSHOT`).
"""

import hashlib
import json
from typing import Any

import pulumi
from pulumi import Output

# API Gateway kinds that a deployment does not snapshot: the deployment itself and what is set up
# around it (stage, its settings, keys and usage plans, the account-wide logging role, domains).
NOT_IN_SNAPSHOT = frozenset(
    {
        "aws:apigateway/deployment:Deployment",
        "aws:apigateway/stage:Stage",
        "aws:apigateway/methodSettings:MethodSettings",
        "aws:apigateway/usagePlan:UsagePlan",
        "aws:apigateway/usagePlanKey:UsagePlanKey",
        "aws:apigateway/apiKey:ApiKey",
        "aws:apigateway/account:Account",
        "aws:apigateway/basePathMapping:BasePathMapping",
        "aws:apigateway/domainName:DomainName",
    }
)
# Not API Gateway resources, but what lets the API invoke its Lambdas: part of what it serves.
ALSO_IN_SNAPSHOT = frozenset({"aws:lambda/permission:Permission"})


def in_snapshot(resource_type: str) -> bool:
    """Whether a child of this type shapes what a deployment serves."""
    if resource_type in ALSO_IN_SNAPSHOT:
        return True
    return resource_type.startswith("aws:apigateway/") and resource_type not in NOT_IN_SNAPSHOT


class DeploymentSnapshot:
    """Collects the inputs of the API's children; :meth:`trigger` hashes them.

    Pass :meth:`transformation` in the component's own ``ResourceOptions(transformations=...)``
    (Pulumi applies a parent's transformations to every child), create the children, then call
    :meth:`trigger` once, right before the Deployment; children registered later are not part of
    that deployment's snapshot and are not recorded.
    """

    def __init__(self) -> None:
        self._children: list[tuple[str, str, dict[str, Any]]] = []
        self._closed = False

    def transformation(self, args: pulumi.ResourceTransformationArgs) -> None:
        """Record a child's type, name and inputs (unchanged: returns None)."""
        if not self._closed and in_snapshot(args.type_):
            self._children.append((args.type_, args.name, dict(args.props)))
        return None

    @property
    def kinds(self) -> set[str]:
        """The child types recorded so far."""
        return {t for t, _, _ in self._children}

    def trigger(self) -> Output[str]:
        """SHA-256 of every recorded child's inputs (resolved), in a stable order."""
        self._closed = True
        children = sorted(self._children, key=lambda c: (c[0], c[1]))
        resolved = Output.from_input([{"type": t, "name": n, "inputs": p} for t, n, p in children])
        return resolved.apply(
            lambda value: hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
        )

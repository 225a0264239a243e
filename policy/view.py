"""One view of a resource for the rules, whichever engine produced it.

The same rule functions run in two places:

* inside ``pulumi preview/up --policy-pack policy`` (CrossGuard), where a resource arrives as
  ``ResourceValidationArgs`` (inputs) or ``PolicyResource`` (outputs, for stack policies) with
  ``props`` keyed by the provider's camelCase wire names, wrapped in a proxy that raises
  ``UnknownValueError`` when a rule reads a value not known during preview;
* in the unit tests, over the graph recorded by the Pulumi mocks (``tests/unit/mocks.py``),
  where a resource has ``inputs`` (camelCase wire names, numbers as floats) and ``state``.

Rules therefore read ``props`` only through the ``Mapping``/``Sequence`` interfaces (never
``isinstance(x, dict)``): the proxy is a ``Mapping``, and reading through it is what lets
CrossGuard report "can't run during preview" instead of a false violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Resource:
    """A resource as the stack-level rules see it."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str | None = None
    # property name -> URNs of the resources that property was computed from (CrossGuard only);
    # lets a rule link `BucketVersioning.bucket` to its Bucket even before names are known.
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # URNs of every resource this one depends on (inputs and explicit ``depends_on``).
    dependencies: tuple[str, ...] = ()

    def identifiers(self) -> set[str]:
        """Values other resources use to point at this one (id, physical name, ARN)."""
        found: set[str] = set()
        for key in ("id", "bucket", "name", "arn", "functionName"):
            value = known(self.props, key)
            if isinstance(value, str) and value:
                found.add(value)
        if self.urn:
            found.add(self.urn)
        return found

    def refers_to(self, prop: str, target: Resource) -> bool:
        """True when this resource's ``prop`` names ``target`` (by value or by dependency)."""
        if target.urn and target.urn in self.property_dependencies.get(prop, ()):
            return True
        value = self.props.get(prop)
        return isinstance(value, str) and value in target.identifiers()


class _CrossGuardResource(Protocol):
    # read-only members: PolicyResource's lists satisfy Sequence (a mutable member would not)
    @property
    def resource_type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...
    @property
    def property_dependencies(self) -> Mapping[str, Sequence[Any]]: ...
    @property
    def dependencies(self) -> Sequence[Any]: ...


def from_crossguard(resource: _CrossGuardResource) -> Resource:
    """Adapter for ``pulumi_policy.PolicyResource`` (stack validation; props are outputs)."""
    deps = {
        prop: tuple(dep.urn for dep in dependencies)
        for prop, dependencies in (getattr(resource, "property_dependencies", None) or {}).items()
    }
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        props=resource.props,
        urn=resource.urn,
        property_dependencies=deps,
        dependencies=tuple(dep.urn for dep in getattr(resource, "dependencies", None) or ()),
    )


class _RecordedResource(Protocol):
    type: str
    name: str
    inputs: Mapping[str, Any]
    state: Mapping[str, Any]


def from_recorded(resource: _RecordedResource, resource_id: str | None = None) -> Resource:
    """Adapter for a resource recorded by the mocks harness.

    CrossGuard's stack policies see outputs, which include the inputs, so the view is the
    inputs overlaid with the state the mock returned. The mock's id is kept as ``id``: S3
    child resources (``BucketVersioning`` ...) point at the bucket's id.
    """
    props: dict[str, Any] = dict(resource.inputs or {})
    props.update(resource.state or {})
    rid = resource_id if resource_id is not None else getattr(resource, "id", None)
    if rid and "id" not in props:
        props["id"] = rid
    urn = getattr(resource, "urn", None)
    return Resource(
        type=resource.type,
        name=resource.name,
        props=props,
        urn=urn,
        property_dependencies=dict(getattr(resource, "property_dependencies", None) or {}),
        dependencies=tuple(getattr(resource, "dependencies", None) or ()),
    )


def from_plain(resource_type: str, name: str, props: Mapping[str, Any], urn: str | None = None) -> Resource:
    """A hand-made resource (tests, docs)."""
    return Resource(type=resource_type, name=name, props=props, urn=urn)


def of_type(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def known(props: Mapping[str, Any], key: str) -> Any:
    """``props.get(key)``, but None when CrossGuard does not know the value yet.

    Used for *identifiers* and names: a stack rule that cannot match a child to its parent by name
    falls back to property dependencies, so an unknown name must not abort the whole rule.
    """
    try:
        return props.get(key)
    except Exception as exc:  # pulumi_policy's UnknownValueError; not imported to keep this pure
        if type(exc).__name__ == "UnknownValueError":
            return None
        raise

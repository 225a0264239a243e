"""imgpipe's security rules as plain functions (no PolicyPack here: constructing one starts a
gRPC server that never returns — ``policy/__main__.py`` does that, and only that).

Two kinds of rule:

* resource rules ``check(resource_type, props) -> list[str]``: one resource's inputs, keyed by
  the provider's camelCase wire names (``blockPublicAcls``, ``versioningConfiguration`` ...);
  an empty list means compliant, a rule ignores types it is not about;
* stack rules ``check(resources) -> list[Violation]``: the whole graph, for properties that in
  pulumi-aws v7 live on separate resources keyed by the bucket/function they configure
  (``BucketVersioning``, ``BucketPublicAccessBlock``, ``FunctionEventInvokeConfig`` ...).

``RULES`` is the registry the pack and the tests iterate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from policy.view import Resource, known, of_type

# --- resource type tokens (pulumi-aws v7) ---------------------------------------------------
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_VERSIONING_V2 = "aws:s3/bucketVersioningV2:BucketVersioningV2"  # pre-v7 alias
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_SSE_V2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
API_METHOD = "aws:apigateway/method:Method"
API_RESOURCE = "aws:apigateway/resource:Resource"
API_ACCOUNT = "aws:apigateway/account:Account"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
LAMBDA_LAYER = "aws:lambda/layerVersion:LayerVersion"
SQS_QUEUE = "aws:sqs/queue:Queue"
SNS_TOPIC = "aws:sns/topic:Topic"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
# Resources whose ``policy`` input is one IAM policy document (IAM_ROLE carries several).
POLICY_RESOURCES = (
    IAM_ROLE_POLICY,
    IAM_POLICY,
    IAM_USER_POLICY,
    IAM_GROUP_POLICY,
    BUCKET_POLICY,
    SQS_QUEUE_POLICY,
    SNS_TOPIC_POLICY,
)

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
# Services whose actions touch image bytes, metadata or the keys protecting them.
DATA_SERVICES = frozenset({"s3", "dynamodb", "kms", "sqs"})
# API Gateway `authorization` values that authenticate the caller.
AUTHORIZATIONS = frozenset({"AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"})
_BUCKET_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::[^/*]+$")

Enforcement = Literal["advisory", "mandatory", "disabled"]


@dataclass(frozen=True)
class Violation:
    """A stack-rule finding; ``urn``/``name`` point at the offending resource when there is one."""

    message: str
    urn: str | None = None
    name: str | None = None


ResourceCheck = Callable[[str, Mapping[str, Any]], list[str]]
StackCheck = Callable[[Sequence[Resource]], list[Violation]]


@dataclass(frozen=True)
class _RuleBase:
    name: str
    description: str
    # keyword-only: they follow each kind's positional ``check`` and ``resource_types``
    enforcement: Enforcement = field(default="mandatory", kw_only=True)
    remediation: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class ResourceRule(_RuleBase):
    """A rule over one resource's properties: ``check`` returns what is wrong (empty: passes)."""

    check: ResourceCheck
    resource_types: tuple[str, ...]
    kind: ClassVar[Literal["resource"]] = "resource"


@dataclass(frozen=True)
class StackRule(_RuleBase):
    """A rule over the whole graph (relations between resources): ``check`` returns violations."""

    check: StackCheck
    resource_types: tuple[str, ...]
    kind: ClassVar[Literal["stack"]] = "stack"


Rule = ResourceRule | StackRule


# --- small readers ---------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    """IAM fields are a scalar or a list; props may be CrossGuard's Sequence proxy."""
    if value is None:
        return []
    if isinstance(value, str | bytes | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _first(value: Any) -> Mapping[str, Any]:
    """A nested block: the provider sends an object (v7) or a one-element list (older shapes)."""
    if isinstance(value, Mapping):
        return value
    items = _as_list(value)
    return items[0] if items and isinstance(items[0], Mapping) else {}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def policy_document(value: Any) -> Mapping[str, Any]:
    """Parse an IAM/bucket policy given as JSON text or as an object; raise ValueError if neither."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            doc = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"policy is not valid JSON ({exc.msg} at {exc.pos}): fix the document") from exc
        if isinstance(doc, Mapping):
            return doc
    raise ValueError(f"policy must be a JSON object or its text, got {type(value).__name__}")


def statements(document: Any) -> list[Mapping[str, Any]]:
    doc = policy_document(document)
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(label, document) for every identity/resource policy a resource carries.

    KMS key policies are deliberately absent: in a key policy ``"Resource": "*"`` means "this
    key" and the account root needs ``kms:*`` (AWS's default key policy), so the wildcard rules
    do not apply to them.
    """
    docs: list[tuple[str, Any]] = []
    if resource_type in POLICY_RESOURCES:
        if props.get("policy") is not None:
            docs.append(("policy", props["policy"]))
    elif resource_type == IAM_ROLE:
        if props.get("assumeRolePolicy") is not None:
            docs.append(("assumeRolePolicy", props["assumeRolePolicy"]))
        for i, inline in enumerate(_as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping) and inline.get("policy"):
                docs.append((f"inlinePolicies[{inline.get('name') or i}]", inline["policy"]))
    elif resource_type == BUCKET and props.get("policy"):
        docs.append(("policy", props["policy"]))
    return docs


# --- S3 ---------------------------------------------------------------------------------------
def s3_no_public_access(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Public access block with all four flags on; no public canned ACL."""
    if resource_type == BUCKET_PAB:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if not _truthy(props.get(flag))]
        return [f"public access block must set {', '.join(off)} to true"] if off else []
    if resource_type in (BUCKET, BUCKET_ACL):
        acl = props.get("acl")
        if isinstance(acl, str) and acl in PUBLIC_ACLS:
            return [f"canned ACL {acl!r} makes the bucket public: remove it (ownership is enforced)"]
    return []


def s3_ownership_enforced(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Object ownership BucketOwnerEnforced (ACLs disabled)."""
    if resource_type != BUCKET_OWNERSHIP:
        return []
    ownership = _first(props.get("rule")).get("objectOwnership")
    if ownership != "BucketOwnerEnforced":
        return [f"object ownership is {ownership!r}: set rule.objectOwnership='BucketOwnerEnforced'"]
    return []


def s3_versioned(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Versioning enabled (and never suspended)."""
    if resource_type in (BUCKET_VERSIONING, BUCKET_VERSIONING_V2):
        status = _first(props.get("versioningConfiguration")).get("status")
        if status != "Enabled":
            return [f"versioning status is {status!r}: set versioningConfiguration.status='Enabled'"]
    elif (
        resource_type == BUCKET
        and props.get("versioning") is not None
        and not _truthy(_first(props.get("versioning")).get("enabled"))
    ):
        return ["inline versioning is disabled: enable it (or use aws.s3.BucketVersioning)"]
    return []


def _sse_defaults(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The default-encryption blocks of an SSE configuration, None if the resource has none."""
    if resource_type in (BUCKET_SSE, BUCKET_SSE_V2):
        rules = _as_list(props.get("rules"))
    elif resource_type == BUCKET and props.get("serverSideEncryptionConfiguration") is not None:
        rules = _as_list(_first(props.get("serverSideEncryptionConfiguration")).get("rule"))
    else:
        return None
    return [_first(r.get("applyServerSideEncryptionByDefault")) for r in rules if isinstance(r, Mapping)]


def s3_encrypted_with_cmk(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Default encryption SSE-KMS with a named key (a customer managed key), not AES256."""
    defaults = _sse_defaults(resource_type, props)
    if defaults is None:
        return []
    if not defaults:
        return ["encryption configuration has no rule: add applyServerSideEncryptionByDefault"]
    problems: list[str] = []
    for block in defaults:
        algorithm = block.get("sseAlgorithm")
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            problems.append(f"sseAlgorithm is {algorithm!r}: use 'aws:kms' with a customer managed key")
        elif not block.get("kmsMasterKeyId"):
            problems.append(
                "sseAlgorithm 'aws:kms' without kmsMasterKeyId uses the AWS managed key: "
                "set kmsMasterKeyId to the CMK's ARN"
            )
    return problems


def _denies_insecure_transport(statement: Mapping[str, Any], service: str = "s3") -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if not (principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS")))):
        return False
    if not {"*", f"{service}:*"} & set(_as_list(statement.get("Action"))):
        return False
    condition = statement.get("Condition")
    bool_block = condition.get("Bool") if isinstance(condition, Mapping) else None
    if not isinstance(bool_block, Mapping):
        return False
    values = [str(v).lower() for v in _as_list(bool_block.get("aws:SecureTransport"))]
    return values == ["false"]


def s3_tls_only(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Bucket policy denies every request made without TLS, on the bucket and on its objects."""
    if resource_type != BUCKET_POLICY:
        return []
    try:
        stmts = statements(props.get("policy"))
    except ValueError as exc:
        return [str(exc)]
    for statement in stmts:
        if not _denies_insecure_transport(statement):
            continue
        resources = {r for r in _as_list(statement.get("Resource")) if isinstance(r, str)}
        buckets = {r for r in resources if _BUCKET_ARN.match(r)}
        if any(f"{b}/*" in resources for b in buckets):
            return []
        return ["the aws:SecureTransport=false Deny must cover both the bucket ARN and 'ARN/*'"]
    return ["bucket policy has no Deny for aws:SecureTransport=false (Principal '*', Action 's3:*')"]


# --- IAM --------------------------------------------------------------------------------------
def _allow_statements(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, int, Mapping]]:
    found: list[tuple[str, int, Mapping]] = []
    for label, document in policy_documents(resource_type, props):
        for i, statement in enumerate(statements(document)):
            if statement.get("Effect") == "Allow":
                found.append((label, i, statement))
    return found


def _where(label: str, index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"{label} statement {sid or index}"


def _each_allow(
    resource_type: str, props: Mapping[str, Any], check: Callable[[str, Mapping[str, Any]], list[str]]
) -> list[str]:
    """``check(where, statement)`` over every Allow statement; an unparsable policy is the one problem."""
    try:
        allows = _allow_statements(resource_type, props)
    except ValueError as exc:
        return [str(exc)]
    return [
        problem
        for label, index, statement in allows
        for problem in check(_where(label, index, statement), statement)
    ]


def _each_key_policy_allow(
    props: Mapping[str, Any], check: Callable[[str, Mapping[str, Any]], list[str]]
) -> list[str]:
    """:func:`_each_allow` for a KMS key's own policy (``key policy statement <Sid or index>``)."""
    try:
        stmts = statements(props.get("policy"))
    except ValueError as exc:
        return [str(exc)]
    return [
        problem
        for index, statement in enumerate(stmts)
        if statement.get("Effect") == "Allow"
        for problem in check(_where("key policy", index, statement), statement)
    ]


def iam_no_wildcard_actions(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No Allow of '*', of a whole service ('s3:*') or of NotAction."""

    def check(where: str, statement: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        if "NotAction" in statement:
            problems.append(f"{where} allows NotAction: list the actions needed")
        wild = [
            a
            for a in _as_list(statement.get("Action"))
            if isinstance(a, str) and (a.strip() == "*" or a.strip().endswith(":*"))
        ]
        if wild:
            problems.append(
                f"{where} allows wildcard action(s) {', '.join(sorted(wild))}: list the actions needed"
            )
        return problems

    return _each_allow(resource_type, props, check)


def _service(action: str) -> str:
    return action.split(":", 1)[0].lower() if ":" in action else action


def iam_no_star_resource_on_data(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No Allow of s3/dynamodb/kms/sqs actions on Resource '*' (or NotResource)."""

    def check(where: str, statement: Mapping[str, Any]) -> list[str]:
        actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
        data = sorted(a for a in actions if a.strip() == "*" or _service(a) in DATA_SERVICES)
        if data and ("*" in _as_list(statement.get("Resource")) or "NotResource" in statement):
            return [
                f"{where} allows {', '.join(data)} on every resource: "
                "scope Resource to the bucket/table/key/queue ARNs"
            ]
        return []

    return _each_allow(resource_type, props, check)


# AWS managed policies that grant whole services or everything.
_BROAD_MANAGED = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/(.*/)?(AdministratorAccess|PowerUserAccess|\w*FullAccess)$"
)


def iam_no_broad_managed_policies(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No AWS managed *FullAccess/AdministratorAccess/PowerUserAccess attachment."""
    if resource_type in (IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY_ATTACHMENT):
        arns = [props.get("policyArn")]
    elif resource_type == IAM_ROLE:
        arns = _as_list(props.get("managedPolicyArns"))
    else:
        return []
    broad = sorted(a for a in arns if isinstance(a, str) and _BROAD_MANAGED.match(a))
    return [f"attaches broad AWS managed policy {a}: write a scoped policy instead" for a in broad]


# --- Lambda, logs ---------------------------------------------------------------------------
def log_group_retention(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Log groups expire their events (0 or unset keeps them forever, at a cost)."""
    if resource_type != LOG_GROUP:
        return []
    days = props.get("retentionInDays")
    if not isinstance(days, int | float) or days <= 0:
        return [f"retentionInDays is {days!r}: set a retention (e.g. 14 days) so logs expire"]
    return []


def _function_log_group_name(function: Resource) -> str | None:
    configured = _first(function.props.get("loggingConfig")).get("logGroup")
    if isinstance(configured, str) and configured:
        return configured
    name = function.props.get("name")
    return f"/aws/lambda/{name}" if isinstance(name, str) and name else None


def lambda_has_failure_destination(resources: Sequence[Resource]) -> list[Violation]:
    """Every function keeps failed async events: a DLQ or an on-failure destination.

    Functions only API Gateway may invoke are exempt: proxy integrations invoke synchronously,
    so a failure is the HTTP client's 5xx and there is no async event to keep.
    """
    configs = of_type(resources, LAMBDA_INVOKE_CONFIG)
    permissions = of_type(resources, LAMBDA_PERMISSION)
    violations: list[Violation] = []
    for function in of_type(resources, LAMBDA_FUNCTION):
        if _first(function.props.get("deadLetterConfig")).get("targetArn"):
            continue
        principals = {p.props.get("principal") for p in permissions if p.refers_to("function", function)}
        if principals == {"apigateway.amazonaws.com"}:
            continue
        destinations = [
            _first(_first(c.props.get("destinationConfig")).get("onFailure")).get("destination")
            for c in configs
            if c.refers_to("functionName", function)
        ]
        if not any(destinations):
            violations.append(
                Violation(
                    f"function {function.name!r} has neither deadLetterConfig.targetArn nor a "
                    "FunctionEventInvokeConfig with destinationConfig.onFailure: failed events would be lost",
                    function.urn,
                    function.name,
                )
            )
    return violations


def lambda_log_group_with_retention(resources: Sequence[Resource]) -> list[Violation]:
    """Every function writes to a log group the stack owns, with a retention."""
    groups = of_type(resources, LOG_GROUP)
    violations: list[Violation] = []
    for function in of_type(resources, LAMBDA_FUNCTION):
        wanted = _function_log_group_name(function)
        match = [g for g in groups if wanted is not None and g.props.get("name") == wanted]
        if not match:
            violations.append(
                Violation(
                    f"function {function.name!r} has no LogGroup named {wanted!r} in the stack: Lambda "
                    "would create one that never expires",
                    function.urn,
                    function.name,
                )
            )
            continue
        for group in match:
            for problem in log_group_retention(group.type, group.props):
                violations.append(Violation(f"function {function.name!r}: {problem}", group.urn, group.name))
    return violations


# --- DynamoDB -------------------------------------------------------------------------------
def dynamodb_encrypted_with_cmk(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != DYNAMODB_TABLE:
        return []
    sse = _first(props.get("serverSideEncryption"))
    if not _truthy(sse.get("enabled")) or not sse.get("kmsKeyArn"):
        return ["table must set serverSideEncryption.enabled=true with kmsKeyArn (a customer managed key)"]
    return []


def dynamodb_point_in_time_recovery(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != DYNAMODB_TABLE:
        return []
    if not _truthy(_first(props.get("pointInTimeRecovery")).get("enabled")):
        return ["table must set pointInTimeRecovery.enabled=true"]
    return []


# --- API Gateway ----------------------------------------------------------------------------
# Keyless by design: the gallery page's static files (a browser cannot send x-api-key when it
# navigates to a page). UploadApi gives exactly these GETs these operation names, backs them with
# S3 reads of the page's own objects only (a role scoped to those object ARNs; tested in
# tests/unit/test_gallery_site.py), and the page then asks for the key before any API call.
PUBLIC_PAGE_OPERATIONS = frozenset({"GetGalleryPage", "GetGalleryAsset"})


def api_method_requires_auth(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every method but CORS pre-flight and the gallery's static GETs needs an API key or an
    authorizer/IAM."""
    if resource_type != API_METHOD:
        return []
    method = props.get("httpMethod")
    if method == "OPTIONS":
        return []
    if method == "GET" and props.get("operationName") in PUBLIC_PAGE_OPERATIONS:
        return []
    authorization = props.get("authorization")
    if _truthy(props.get("apiKeyRequired")) or authorization in AUTHORIZATIONS:
        return []
    return [
        f"{method} method has authorization {authorization!r} and no API key: set apiKeyRequired=true "
        "or authorization='AWS_IAM' (or an authorizer)"
    ]


# --- stack: every bucket fully guarded ----------------------------------------------------
def _bucket_children(resources: Sequence[Resource], bucket: Resource, *types: str) -> list[Resource]:
    return [r for r in of_type(resources, *types) if r.refers_to("bucket", bucket)]


def s3_bucket_fully_configured(resources: Sequence[Resource]) -> list[Violation]:
    """Every bucket has its access block, ownership, versioning, encryption and policy resources.

    The resource rules check each configuration's content; this one catches a bucket created
    without one of them (in pulumi-aws v7 they are separate resources). A deprecated inline
    block on the bucket counts when present.
    """
    required: list[tuple[str, tuple[str, ...], str | None]] = [
        ("public access block", (BUCKET_PAB,), None),
        ("ownership controls", (BUCKET_OWNERSHIP,), None),
        ("versioning", (BUCKET_VERSIONING, BUCKET_VERSIONING_V2), "versioning"),
        ("default encryption", (BUCKET_SSE, BUCKET_SSE_V2), "serverSideEncryptionConfiguration"),
        ("bucket policy", (BUCKET_POLICY,), "policy"),
    ]
    violations: list[Violation] = []
    for bucket in of_type(resources, BUCKET):
        missing = [
            label
            for label, types, inline in required
            if not _bucket_children(resources, bucket, *types) and not (inline and bucket.props.get(inline))
        ]
        if missing:
            violations.append(
                Violation(f"bucket {bucket.name!r} has no {', '.join(missing)}", bucket.urn, bucket.name)
            )
    return violations


# --- AWS behaviours the mocks and moto do not enforce -----------------------------------------
# Each rule below is something AWS rejects (or accepts and then silently misbehaves on) while
# Pulumi mocks and moto accept it, so only a rule can fail before a real `pulumi up` does.

# Physical name limits, from each service's API reference (CreateFunction FunctionName,
# PublishLayerVersion LayerName, CreateAlias AliasName, CreateLogGroup logGroupName, CreateRole
# RoleName, CreateQueue QueueName, CreateTopic Name, PutDashboard DashboardName, PutMetricAlarm
# AlarmName, CreateTable TableName) and S3's bucket naming rules
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
# type -> (name property, max length, allowed characters (full match), what is allowed)
NAME_LIMITS: dict[str, tuple[str, int, str, str]] = {
    LAMBDA_FUNCTION: ("name", 64, r"[A-Za-z0-9_-]+", "letters, digits, '-', '_'"),
    LAMBDA_LAYER: ("layerName", 140, r"[A-Za-z0-9_-]+", "letters, digits, '-', '_'"),
    KMS_ALIAS: (
        "name",
        256,
        r"alias/(?!aws/)[A-Za-z0-9/_-]+",
        "'alias/' then letters, digits, '/', '_', '-'",
    ),
    LOG_GROUP: ("name", 512, r"[A-Za-z0-9._/#-]+", "letters, digits, '.', '_', '-', '/', '#'"),
    IAM_ROLE: ("name", 64, r"[A-Za-z0-9+=,.@_-]+", "letters, digits, '+=,.@_-'"),
    SQS_QUEUE: ("name", 80, r"[A-Za-z0-9_-]+(\.fifo)?", "letters, digits, '-', '_' (and '.fifo')"),
    SNS_TOPIC: ("name", 256, r"[A-Za-z0-9_-]+(\.fifo)?", "letters, digits, '-', '_' (and '.fifo')"),
    DASHBOARD: ("dashboardName", 255, r"[A-Za-z0-9_-]+", "letters, digits, '-', '_'"),
    METRIC_ALARM: ("name", 255, r"[^\x00-\x1f\x7f]+", "no control characters"),
    DYNAMODB_TABLE: ("name", 255, r"[A-Za-z0-9_.-]{3,}", "3+ letters, digits, '_', '-', '.'"),
    BUCKET: (
        "bucket",
        63,
        r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "3-63 of a-z, 0-9, '.', '-'",
    ),
}


def names_within_aws_limits(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A name the program sets is one AWS accepts (length and characters); mocks and moto take any.

    Unknown names (computed during preview) are skipped: the rule runs again at ``up``.
    """
    if resource_type not in NAME_LIMITS:
        return []
    prop, limit, pattern, allowed = NAME_LIMITS[resource_type]
    name = known(props, prop)
    if not isinstance(name, str) or not name:
        return []  # autonamed by Pulumi within the limits
    problems = []
    if len(name) > limit:
        problems.append(f"{prop} {name!r} is {len(name)} characters; AWS allows at most {limit}")
    if not re.fullmatch(pattern, name):
        problems.append(f"{prop} {name!r} has characters AWS refuses here: allowed are {allowed}")
    return problems


# Services whose calls to a KMS key carry no aws:SourceAccount / aws:SourceArn: a key-policy
# condition on those keys never matches and the service's encrypt call is denied, silently.
# CloudWatch alarms → encrypted SNS: AWS's statement has no condition
# (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services,
# https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns); EventBridge: AWS documents
# that aws:SourceAccount/SourceArn/SourceOrgID are not supported in the key policy.
_KMS_CALLERS_WITHOUT_SOURCE = frozenset({"cloudwatch.amazonaws.com", "events.amazonaws.com"})
_SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths")


def kms_service_grant_without_source_conditions(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A key-policy grant to CloudWatch/EventBridge has no aws:Source* condition (their KMS calls
    do not carry it, so the grant would never apply and alarm/event delivery fails silently)."""
    if resource_type != KMS_KEY or props.get("policy") is None:
        return []

    def check(where: str, statement: Mapping[str, Any]) -> list[str]:
        principal = statement.get("Principal")
        services = set(_as_list(principal.get("Service"))) if isinstance(principal, Mapping) else set()
        callers = sorted(services & _KMS_CALLERS_WITHOUT_SOURCE)
        condition = statement.get("Condition")
        if not callers or not isinstance(condition, Mapping):
            return []
        keys = sorted(
            {
                k
                for block in condition.values()
                if isinstance(block, Mapping)
                for k in block
                if k.lower() in _SOURCE_KEYS
            }
        )
        if not keys:
            return []
        return [
            f"{where} grants {', '.join(callers)} with "
            f"condition {', '.join(keys)}, which that service's KMS calls do not carry: the grant "
            "never applies. Drop the condition here and keep it on the topic/queue policy"
        ]

    return _each_key_policy_allow(props, check)


def lambda_reserved_concurrency_quota(resources: Sequence[Resource]) -> list[Violation]:
    """Reserving concurrency needs an account quota >= the stack's reservations + 100 (AWS keeps
    100 unreserved), summed over every function (the image function and the render function).

    Advisory: the quota is per account and not in the graph; this says what to check before up.
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
    """
    reserving: list[tuple[Resource, int]] = []
    for res in of_type(resources, LAMBDA_FUNCTION):
        reserved = known(res.props, "reservedConcurrentExecutions")
        if isinstance(reserved, int | float) and reserved > 0:
            reserving.append((res, int(reserved)))
    if not reserving:
        return []
    total = sum(n for _, n in reserving)
    parts = ", ".join(f"{res.name} {n}" for res, n in reserving)
    first = reserving[0][0]
    return [
        Violation(
            f"the stack reserves {total} concurrent executions ({parts}): the account's Lambda concurrency "
            f"quota in this region must be at least {total + 100} (AWS keeps 100 unreserved), else "
            "`pulumi up` fails. Check with `aws lambda get-account-settings --query AccountLimit`, or set "
            "imgpipe:reservedConcurrency / imgpipe:renderConcurrency to 0",
            first.urn,
            first.name,
        )
    ]


def _api_parent(resource: Resource) -> tuple[str, ...]:
    """What a REST API resource hangs under: the parent id, or (unknown in preview) its dependency."""
    parent = known(resource.props, "parentId")
    if isinstance(parent, str) and parent:
        return (parent,)
    return tuple(sorted(resource.property_dependencies.get("parentId", ())))


def apigateway_one_path_variable_per_level(resources: Sequence[Resource]) -> list[Violation]:
    """At most one variable path part (``{x}`` or ``{x+}``) under each parent resource.

    API Gateway refuses the second with "A sibling ({x}) of this resource already has a variable
    path part -- only one is allowed" (BadRequestException; by design, per the API Gateway team:
    https://github.com/amazon-archives/aws-apigateway-importer/issues/202); moto and mocks accept it.
    """
    by_parent: dict[tuple[str, ...], list[Resource]] = {}
    for res in of_type(resources, API_RESOURCE):
        part = known(res.props, "pathPart")
        parent = _api_parent(res)
        if isinstance(part, str) and part.startswith("{") and parent:
            by_parent.setdefault(parent, []).append(res)
    violations = []
    for siblings in by_parent.values():
        parts = sorted({str(res.props.get("pathPart")) for res in siblings})
        if len(parts) > 1:
            for res in siblings[1:]:
                violations.append(
                    Violation(
                        f"API resource {res.name!r} ({res.props.get('pathPart')}) has a sibling with another "
                        f"variable path part ({', '.join(parts)}): API Gateway allows one per level. Use one "
                        "variable name, or move a route under a fixed segment (/images/{image_id} and "
                        "/uploads/{key+})",
                        res.urn,
                        res.name,
                    )
                )
    return violations


PUSH_TO_CLOUDWATCH_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def _trusts(role: Resource, service: str) -> bool:
    try:
        stmts = statements(role.props.get("assumeRolePolicy"))
    except ValueError:
        return False
    for statement in stmts:
        principal = statement.get("Principal")
        if (
            statement.get("Effect") == "Allow"
            and isinstance(principal, Mapping)
            and service in _as_list(principal.get("Service"))
            and "sts:AssumeRole" in _as_list(statement.get("Action"))
        ):
            return True
    return False


def apigateway_account_role_is_valid(resources: Sequence[Resource]) -> list[Violation]:
    """The API Gateway account setting points at a role API Gateway accepts, once it is usable.

    API Gateway validates the CloudWatch role when the setting is written: the role must trust
    apigateway.amazonaws.com and carry the permissions of the managed policy
    AmazonAPIGatewayPushToCloudWatchLogs (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html),
    and the attachment must exist before the setting is written (the Account depends on it).
    A role outside the stack is not checked.
    """
    roles = of_type(resources, IAM_ROLE)
    attachments = of_type(resources, IAM_ROLE_POLICY_ATTACHMENT)
    violations = []
    for account in of_type(resources, API_ACCOUNT):
        for role in roles:
            if not account.refers_to("cloudwatchRoleArn", role):
                continue
            problems = []
            if not _trusts(role, "apigateway.amazonaws.com"):
                problems.append("does not trust apigateway.amazonaws.com (sts:AssumeRole)")
            managed = [
                a
                for a in attachments
                if a.refers_to("role", role) and a.props.get("policyArn") == PUSH_TO_CLOUDWATCH_LOGS
            ]
            inline_managed = PUSH_TO_CLOUDWATCH_LOGS in _as_list(role.props.get("managedPolicyArns"))
            if not managed and not inline_managed:
                problems.append(f"has no attachment of {PUSH_TO_CLOUDWATCH_LOGS}")
            elif managed and account.urn and not any(a.urn in account.dependencies for a in managed if a.urn):
                problems.append(
                    "is attached to the managed policy, but the Account does not depend on the attachment "
                    "(API Gateway may check the role before it has the permissions): add depends_on"
                )
            for problem in problems:
                violations.append(
                    Violation(f"API Gateway account role {role.name!r} {problem}", account.urn, account.name)
                )
    return violations


# --- KMS key policies, KMS grants, service trust, SQS (issue 13) ------------------------------
# Actions that produce plaintext or ciphertext with a symmetric key.
_KMS_CRYPTO = ("kms:decrypt", "kms:encrypt", "kms:generatedatakey", "kms:reencrypt")
# Services that set an encryption context on every KMS call for a resource they own: a grant used
# through them can (and here must) be pinned to the one bucket/table/queue.
# S3 aws:s3:arn https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context
# DynamoDB aws:dynamodb:tableName https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html
# SQS aws:sqs:arn https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
_CONTEXT_SERVICES = ("s3.", "dynamodb.", "sqs.")


def _is_kms_crypto(action: Any) -> bool:
    a = str(action).lower()
    return a in ("*", "kms:*") or a.startswith(_KMS_CRYPTO)


def _conditions(statement: Mapping[str, Any]) -> dict[str, list[str]]:
    """condition key (lower-case) -> its values, whatever the operator."""
    found: dict[str, list[str]] = {}
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return found
    for block in condition.values():
        if isinstance(block, Mapping):
            for key, value in block.items():
                found.setdefault(str(key).lower(), []).extend(str(v) for v in _as_list(value))
    return found


def kms_key_policy_explicit(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A customer key has its own policy: no AWS default (root ``kms:*``: any IAM ``kms:*`` may
    decrypt, disable or delete), no ``kms:*`` to anyone, and account principals use the key only
    through a service (``kms:ViaService``), so administering a key never means reading its data.
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
    """
    if resource_type != KMS_KEY:
        return []
    if props.get("policy") is None:
        return [
            "the key has AWS's default key policy (the account's IAM policies may grant every KMS action "
            "on it): give it an explicit policy, components/encryption_key.py customer_key()"
        ]

    def check(where: str, statement: Mapping[str, Any]) -> list[str]:
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        if {"*", "kms:*"} & {a.lower() for a in actions}:
            return [f"{where} allows kms:*: split administration (no cryptography) from use"]
        principal = statement.get("Principal")
        aws_principal = principal == "*" or (isinstance(principal, Mapping) and "AWS" in principal)
        crypto = sorted(a for a in actions if _is_kms_crypto(a))
        if aws_principal and crypto and "kms:viaservice" not in _conditions(statement):
            return [
                f"{where} lets account principals call {', '.join(crypto)} directly: add a kms:ViaService "
                "condition (use through the service that owns the data only)"
            ]
        return []

    return _each_key_policy_allow(props, check)


def iam_kms_grants_via_service(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """An identity policy's KMS use goes through one service (``kms:ViaService``) and, for S3,
    DynamoDB and SQS, names the resource by its encryption context; stolen credentials then cannot
    call ``kms:Decrypt`` on a ciphertext, nor use the key through another bucket or table.
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
    """
    if resource_type in (BUCKET_POLICY, SQS_QUEUE_POLICY, SNS_TOPIC_POLICY):
        return []

    def check(where: str, statement: Mapping[str, Any]) -> list[str]:
        crypto = sorted(str(a) for a in _as_list(statement.get("Action")) if _is_kms_crypto(a))
        if not crypto or where.startswith("assumeRolePolicy"):
            return []
        conditions = _conditions(statement)
        via = conditions.get("kms:viaservice", [])
        if not via:
            return [f"{where} allows {', '.join(crypto)} without a kms:ViaService condition"]
        context = [k for k in conditions if k.startswith("kms:encryptioncontext:")]
        if any(v.startswith(_CONTEXT_SERVICES) for v in via) and not context:
            return [
                f"{where} allows {', '.join(crypto)} through {', '.join(via)} for any resource: add the "
                "service's kms:EncryptionContext condition (bucket ARN / table name / queue ARN)"
            ]
        return []

    return _each_allow(resource_type, props, check)


def _account_roles(resources: Sequence[Resource]) -> list[Resource]:
    roles = of_type(resources, IAM_ROLE)
    return [
        r for r in roles if any(a.refers_to("cloudwatchRoleArn", r) for a in of_type(resources, API_ACCOUNT))
    ]


def apigateway_trust_source_conditions(resources: Sequence[Resource]) -> list[Violation]:
    """A role API Gateway assumes for an API's integrations trusts it only with aws:SourceAccount
    and aws:SourceArn (confused-deputy protection); the account-wide CloudWatch logging role is
    exempt (API Gateway uses it for every API, outside any one execute-api ARN).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html#cross-service-confused-deputy-prevention
    """
    exempt = {id(r) for r in _account_roles(resources)}
    violations = []
    for role in of_type(resources, IAM_ROLE):
        if id(role) in exempt or not _trusts(role, "apigateway.amazonaws.com"):
            continue
        for statement in statements(role.props.get("assumeRolePolicy")):
            principal = statement.get("Principal")
            services = _as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
            if statement.get("Effect") != "Allow" or "apigateway.amazonaws.com" not in services:
                continue
            missing = [
                k for k in ("aws:SourceAccount", "aws:SourceArn") if k.lower() not in _conditions(statement)
            ]
            if missing:
                violations.append(
                    Violation(
                        f"role {role.name!r} trusts apigateway.amazonaws.com without "
                        f"{' and '.join(missing)}: any API Gateway API (another account's too) could use it",
                        role.urn,
                        role.name,
                    )
                )
    return violations


def sqs_encrypted_with_cmk(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Queues are encrypted with a customer managed key (not SSE-SQS, not the AWS managed key)."""
    if resource_type != SQS_QUEUE:
        return []
    key = props.get("kmsMasterKeyId")
    if not key or str(key) == "alias/aws/sqs":
        return ["the queue is not encrypted with a customer managed KMS key: set kms_master_key_id"]
    return []


def sqs_tls_only(resources: Sequence[Resource]) -> list[Violation]:
    """Every queue has a queue policy denying requests without TLS."""
    policies = of_type(resources, SQS_QUEUE_POLICY)
    violations = []
    for queue in of_type(resources, SQS_QUEUE):
        ok = False
        url = known(queue.props, "url")
        for policy in policies:
            if not (policy.refers_to("queueUrl", queue) or (url and known(policy.props, "queueUrl") == url)):
                continue
            try:
                ok = any(
                    _denies_insecure_transport(st, "sqs") for st in statements(policy.props.get("policy"))
                )
            except ValueError:
                ok = False
            if ok:
                break
        if not ok:
            violations.append(
                Violation(
                    f"queue {queue.name!r} has no queue policy denying aws:SecureTransport=false "
                    "(Principal '*', Action 'sqs:*')",
                    queue.urn,
                    queue.name,
                )
            )
    return violations


RULES: tuple[Rule, ...] = (
    ResourceRule(
        "s3-no-public-access",
        "S3 buckets block all public access (all four flags) and use no public ACL",
        s3_no_public_access,
        (BUCKET_PAB, BUCKET, BUCKET_ACL),
        remediation="aws.s3.BucketPublicAccessBlock with the four block/ignore/restrict flags true",
    ),
    ResourceRule(
        "s3-ownership-enforced",
        "S3 object ownership is BucketOwnerEnforced (ACLs disabled)",
        s3_ownership_enforced,
        (BUCKET_OWNERSHIP,),
    ),
    ResourceRule(
        "s3-versioned",
        "S3 buckets are versioned",
        s3_versioned,
        (BUCKET_VERSIONING, BUCKET_VERSIONING_V2, BUCKET),
    ),
    ResourceRule(
        "s3-encrypted-with-cmk",
        "S3 default encryption is SSE-KMS with a customer managed key",
        s3_encrypted_with_cmk,
        (BUCKET_SSE, BUCKET_SSE_V2, BUCKET),
    ),
    ResourceRule(
        "s3-tls-only",
        "S3 bucket policies deny requests without TLS on the bucket and its objects",
        s3_tls_only,
        (BUCKET_POLICY,),
    ),
    ResourceRule(
        "iam-no-wildcard-actions",
        "IAM/resource policies allow no '*', 'service:*' or NotAction",
        iam_no_wildcard_actions,
        (IAM_ROLE, *POLICY_RESOURCES),
    ),
    ResourceRule(
        "iam-no-star-resource-on-data",
        "IAM/resource policies allow no s3/dynamodb/kms/sqs action on '*'",
        iam_no_star_resource_on_data,
        (IAM_ROLE, *POLICY_RESOURCES),
    ),
    ResourceRule(
        "iam-no-broad-managed-policies",
        "No AWS managed FullAccess/Administrator/PowerUser policy attached",
        iam_no_broad_managed_policies,
        (IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY_ATTACHMENT, IAM_ROLE),
    ),
    ResourceRule(
        "log-group-retention",
        "CloudWatch log groups have a retention",
        log_group_retention,
        (LOG_GROUP,),
    ),
    ResourceRule(
        "dynamodb-encrypted-with-cmk",
        "DynamoDB tables are encrypted with a customer managed key",
        dynamodb_encrypted_with_cmk,
        (DYNAMODB_TABLE,),
    ),
    ResourceRule(
        "dynamodb-pitr",
        "DynamoDB tables have point-in-time recovery",
        dynamodb_point_in_time_recovery,
        (DYNAMODB_TABLE,),
    ),
    ResourceRule(
        "api-method-requires-auth",
        "API Gateway methods (but OPTIONS) require an API key or IAM/authorizer",
        api_method_requires_auth,
        (API_METHOD,),
    ),
    StackRule(
        "s3-bucket-fully-configured",
        "Every S3 bucket has a public access block, ownership controls, versioning, encryption and a policy",
        s3_bucket_fully_configured,
        (BUCKET, BUCKET_PAB, BUCKET_OWNERSHIP, BUCKET_VERSIONING, BUCKET_SSE, BUCKET_POLICY),
    ),
    StackRule(
        "lambda-failure-destination",
        "Lambda functions send failed async events to a DLQ or destination",
        lambda_has_failure_destination,
        (LAMBDA_FUNCTION, LAMBDA_INVOKE_CONFIG, LAMBDA_PERMISSION),
    ),
    StackRule(
        "lambda-log-retention",
        "Lambda functions log to a stack-owned log group with retention",
        lambda_log_group_with_retention,
        (LAMBDA_FUNCTION, LOG_GROUP),
    ),
    # AWS behaviours mocks and moto do not enforce (docs/local.md lists them with the engine's)
    ResourceRule(
        "aws-name-limits",
        "Physical names the program sets are within AWS's length and character limits",
        names_within_aws_limits,
        tuple(NAME_LIMITS),
        remediation="shorten the name or replace the characters AWS refuses (components/naming.py)",
    ),
    ResourceRule(
        "kms-service-grant-conditions",
        "KMS key grants to CloudWatch/EventBridge carry no aws:Source* condition their calls lack",
        kms_service_grant_without_source_conditions,
        (KMS_KEY,),
        remediation="keep aws:SourceAccount/aws:SourceArn on the SNS topic or SQS queue policy instead",
    ),
    StackRule(
        "lambda-reserved-concurrency-quota",
        "Reserved concurrency needs an account concurrency quota of at least the stack's reservations + 100",
        lambda_reserved_concurrency_quota,
        (LAMBDA_FUNCTION,),
        enforcement="advisory",
        remediation="aws lambda get-account-settings --query AccountLimit; request more, or reserve none",
    ),
    StackRule(
        "apigateway-account-role",
        "The API Gateway account's CloudWatch role trusts API Gateway and has "
        "AmazonAPIGatewayPushToCloudWatchLogs attached before the setting is written",
        apigateway_account_role_is_valid,
        (API_ACCOUNT, IAM_ROLE, IAM_ROLE_POLICY_ATTACHMENT),
        remediation="aws.iam.RolePolicyAttachment of the managed policy; the Account depends_on it",
    ),
    ResourceRule(
        "kms-key-policy-explicit",
        "KMS keys have an explicit policy: no kms:*, account principals use keys only via a service",
        kms_key_policy_explicit,
        (KMS_KEY,),
        remediation="components/encryption_key.py customer_key() writes such a policy",
    ),
    ResourceRule(
        "iam-kms-grants-via-service",
        "IAM KMS grants carry kms:ViaService (and the encryption context for S3/DynamoDB/SQS)",
        iam_kms_grants_via_service,
        (IAM_ROLE, *POLICY_RESOURCES),
        remediation="components/iam.py kms_grant() / s3_key_grant() / dynamodb_key_grant() / sqs_key_grant()",
    ),
    StackRule(
        "apigateway-trust-source-conditions",
        "Roles API Gateway assumes for an API trust it with aws:SourceAccount and aws:SourceArn",
        apigateway_trust_source_conditions,
        (IAM_ROLE, API_ACCOUNT),
        remediation="components/iam.py assume_role_policy(service, source_account=…, source_arn=…)",
    ),
    ResourceRule(
        "sqs-encrypted-with-cmk",
        "SQS queues are encrypted with a customer managed KMS key",
        sqs_encrypted_with_cmk,
        (SQS_QUEUE,),
    ),
    StackRule(
        "sqs-tls-only",
        "Every SQS queue has a queue policy denying requests without TLS",
        sqs_tls_only,
        (SQS_QUEUE, SQS_QUEUE_POLICY),
    ),
    StackRule(
        "apigateway-one-path-variable-per-level",
        "An API Gateway resource has at most one variable path part among its children",
        apigateway_one_path_variable_per_level,
        (API_RESOURCE,),
    ),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


def check_resource(resource_type: str, props: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every resource rule over one resource: rule name -> messages (only rules that failed)."""
    found: dict[str, list[str]] = {}
    for rule in RULES:
        if isinstance(rule, ResourceRule):
            messages = rule.check(resource_type, props)
            if messages:
                found[rule.name] = list(messages)
    return found


def check_graph(resources: Sequence[Resource]) -> dict[str, list[Violation]]:
    """Every rule over a whole graph: rule name -> violations (every rule is a key)."""
    report: dict[str, list[Violation]] = {rule.name: [] for rule in RULES}
    for rule in RULES:
        if isinstance(rule, StackRule):
            report[rule.name].extend(rule.check(resources))
            continue
        for resource in resources:
            for message in rule.check(resource.type, resource.props):
                report[rule.name].append(Violation(message, resource.urn, resource.name))
    return report

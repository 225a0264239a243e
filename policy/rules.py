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
from dataclasses import dataclass
from typing import Any, Literal

from policy.view import Resource, of_type

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
class Rule:
    name: str
    description: str
    kind: Literal["resource", "stack"]
    check: ResourceCheck | StackCheck
    resource_types: tuple[str, ...]
    enforcement: Enforcement = "mandatory"
    remediation: str = ""


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


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if not (principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS")))):
        return False
    if not {"*", "s3:*"} & set(_as_list(statement.get("Action"))):
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
def api_method_requires_auth(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every method but CORS pre-flight needs an API key or an authorizer/IAM."""
    if resource_type != API_METHOD:
        return []
    method = props.get("httpMethod")
    if method == "OPTIONS":
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


RULES: tuple[Rule, ...] = (
    Rule(
        "s3-no-public-access",
        "S3 buckets block all public access (all four flags) and use no public ACL",
        "resource",
        s3_no_public_access,
        (BUCKET_PAB, BUCKET, BUCKET_ACL),
        remediation="aws.s3.BucketPublicAccessBlock with the four block/ignore/restrict flags true",
    ),
    Rule(
        "s3-ownership-enforced",
        "S3 object ownership is BucketOwnerEnforced (ACLs disabled)",
        "resource",
        s3_ownership_enforced,
        (BUCKET_OWNERSHIP,),
    ),
    Rule(
        "s3-versioned",
        "S3 buckets are versioned",
        "resource",
        s3_versioned,
        (BUCKET_VERSIONING, BUCKET_VERSIONING_V2, BUCKET),
    ),
    Rule(
        "s3-encrypted-with-cmk",
        "S3 default encryption is SSE-KMS with a customer managed key",
        "resource",
        s3_encrypted_with_cmk,
        (BUCKET_SSE, BUCKET_SSE_V2, BUCKET),
    ),
    Rule(
        "s3-tls-only",
        "S3 bucket policies deny requests without TLS on the bucket and its objects",
        "resource",
        s3_tls_only,
        (BUCKET_POLICY,),
    ),
    Rule(
        "iam-no-wildcard-actions",
        "IAM/resource policies allow no '*', 'service:*' or NotAction",
        "resource",
        iam_no_wildcard_actions,
        (IAM_ROLE, *POLICY_RESOURCES),
    ),
    Rule(
        "iam-no-star-resource-on-data",
        "IAM/resource policies allow no s3/dynamodb/kms/sqs action on '*'",
        "resource",
        iam_no_star_resource_on_data,
        (IAM_ROLE, *POLICY_RESOURCES),
    ),
    Rule(
        "iam-no-broad-managed-policies",
        "No AWS managed FullAccess/Administrator/PowerUser policy attached",
        "resource",
        iam_no_broad_managed_policies,
        (IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY_ATTACHMENT, IAM_ROLE),
    ),
    Rule(
        "log-group-retention",
        "CloudWatch log groups have a retention",
        "resource",
        log_group_retention,
        (LOG_GROUP,),
    ),
    Rule(
        "dynamodb-encrypted-with-cmk",
        "DynamoDB tables are encrypted with a customer managed key",
        "resource",
        dynamodb_encrypted_with_cmk,
        (DYNAMODB_TABLE,),
    ),
    Rule(
        "dynamodb-pitr",
        "DynamoDB tables have point-in-time recovery",
        "resource",
        dynamodb_point_in_time_recovery,
        (DYNAMODB_TABLE,),
    ),
    Rule(
        "api-method-requires-auth",
        "API Gateway methods (but OPTIONS) require an API key or IAM/authorizer",
        "resource",
        api_method_requires_auth,
        (API_METHOD,),
    ),
    Rule(
        "s3-bucket-fully-configured",
        "Every S3 bucket has a public access block, ownership controls, versioning, encryption and a policy",
        "stack",
        s3_bucket_fully_configured,
        (BUCKET, BUCKET_PAB, BUCKET_OWNERSHIP, BUCKET_VERSIONING, BUCKET_SSE, BUCKET_POLICY),
    ),
    Rule(
        "lambda-failure-destination",
        "Lambda functions send failed async events to a DLQ or destination",
        "stack",
        lambda_has_failure_destination,
        (LAMBDA_FUNCTION, LAMBDA_INVOKE_CONFIG, LAMBDA_PERMISSION),
    ),
    Rule(
        "lambda-log-retention",
        "Lambda functions log to a stack-owned log group with retention",
        "stack",
        lambda_log_group_with_retention,
        (LAMBDA_FUNCTION, LOG_GROUP),
    ),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


def check_resource(resource_type: str, props: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every resource rule over one resource: rule name -> messages (only rules that failed)."""
    found: dict[str, list[str]] = {}
    for rule in RULES:
        if rule.kind == "resource":
            messages = rule.check(resource_type, props)  # type: ignore[call-arg]
            if messages:
                found[rule.name] = list(messages)
    return found


def check_graph(resources: Sequence[Resource]) -> dict[str, list[Violation]]:
    """Every rule over a whole graph: rule name -> violations (every rule is a key)."""
    report: dict[str, list[Violation]] = {rule.name: [] for rule in RULES}
    for rule in RULES:
        if rule.kind == "stack":
            report[rule.name].extend(rule.check(resources))  # type: ignore[arg-type]
            continue
        for resource in resources:
            for message in rule.check(resource.type, resource.props):  # type: ignore[call-arg]
                report[rule.name].append(Violation(message, resource.urn, resource.name))
    return report

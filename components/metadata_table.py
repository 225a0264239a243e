"""MetadataTable: the DynamoDB table of image records (the metadata item contract).

Partition key ``image_id``; GSIs ``by_source_key`` (all records of one object key, newest
last) and ``by_status`` (e.g. every ``failed`` image since a date), both projecting ALL.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pulumi import Output, ResourceOptions

from components.encryption_key import METADATA_ACTIONS, customer_key
from components.naming import physical_base
from components.package import component_type, from_inputs, package_options

HASH_KEY = "image_id"
INDEXES: dict[str, tuple[str, str]] = {
    # index name -> (hash key, range key)
    "by_source_key": ("source_key", "created_at"),
    "by_status": ("status", "created_at"),
}


@dataclass
class MetadataTableArgs:
    """Settings of the :class:`MetadataTable`."""

    protect: bool = False
    """Deletion protection on the table, Pulumi ``protect`` + ``retain_on_delete`` on it and its key."""
    ttl_attribute: str | None = None
    """Expire items whose epoch-seconds attribute of this name is past (None: keep items)."""


class MetadataTable(pulumi.ComponentResource):
    """On-demand DynamoDB table, SSE with its own CMK (rotation on), PITR, the two GSIs.

    Attributes: ``table`` (``aws.dynamodb.Table``), ``table_name``, ``table_arn``, ``key_arn``.
    """

    table_name: Output[str]
    """The table name."""
    table_arn: Output[str]
    """The table ARN (its indexes are ``<arn>/index/<name>``)."""
    key_arn: Output[str]
    """ARN of the KMS key that encrypts the table."""

    def __init__(self, name: str, args: MetadataTableArgs, opts: ResourceOptions | None = None) -> None:
        args = from_inputs(MetadataTableArgs, args)  # a dict when constructed through the package
        super().__init__(
            component_type("MetadataTable"),
            name,
            None,
            package_options("imgpipe:storage:MetadataTable", opts),
        )
        kept = ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)

        # The table is autonamed; the key alias is ours, unique per account+region: it carries
        # a random suffix so two deployments of one stack name never collide (components/naming.py).
        project, stack = pulumi.get_project(), pulumi.get_stack()
        suffix = random.RandomId(f"{name}-suffix", byte_length=4, opts=ResourceOptions(parent=self))
        self.key = customer_key(
            name,
            self,
            encrypts="metadata table",
            protect=args.protect,
            alias=suffix.hex.apply(lambda hex_: physical_base(project, stack, "metadata", hex_, "key")),
            # DynamoDB's documented key policy for a customer managed table key: principals use
            # it through DynamoDB (CreateGrant included: DynamoDB creates a grant for the table),
            # and DynamoDB itself may read the key's metadata. The table is autonamed, so the
            # encryption context (aws:dynamodb:tableName) is enforced on the roles' grants.
            # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html
            service="dynamodb",
            metadata_actions=(*METADATA_ACTIONS, "kms:CreateGrant"),
            statements=[
                {
                    "sid": "DynamoDBReadsKeyMetadata",
                    "actions": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "resources": ["*"],
                    "principals": [{"type": "Service", "identifiers": ["dynamodb.amazonaws.com"]}],
                }
            ],
        )
        attributes = sorted({HASH_KEY, *(k for keys in INDEXES.values() for k in keys)})
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            # only key attributes are declared; the rest of the item is schemaless
            attributes=[{"name": attr, "type": "S"} for attr in attributes],
            global_secondary_indexes=[
                {"name": index, "hash_key": hash_key, "range_key": range_key, "projection_type": "ALL"}
                for index, (hash_key, range_key) in INDEXES.items()
            ],
            server_side_encryption={"enabled": True, "kms_key_arn": self.key.arn},
            point_in_time_recovery={"enabled": True},
            deletion_protection_enabled=args.protect,
            ttl={"attribute_name": args.ttl_attribute, "enabled": True} if args.ttl_attribute else None,
            opts=kept,
        )
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.key_arn = self.key.arn
        self.register_outputs(
            {"table_name": self.table_name, "table_arn": self.table_arn, "key_arn": self.key_arn}
        )

"""imgpipe: a serverless image pipeline on AWS.

Reads the stack config once, composes the components, exports the output contract. Nothing
else lives here: each resource family is a component in ``components/``.
"""

import pulumi

from components import config as stack_config
from components.metadata_table import MetadataTable, MetadataTableArgs
from components.secure_bucket import SecureBucket, SecureBucketArgs

cfg = stack_config.load()

uploads = SecureBucket(
    "uploads",
    SecureBucketArgs(purpose="uploads", force_destroy=cfg.force_destroy, protect=cfg.protect),
)
processed = SecureBucket(
    "processed",
    SecureBucketArgs(purpose="processed", force_destroy=cfg.force_destroy, protect=cfg.protect),
)
metadata = MetadataTable("metadata", MetadataTableArgs(protect=cfg.protect))

pulumi.export("upload_bucket", uploads.bucket_name)
pulumi.export("processed_bucket", processed.bucket_name)
pulumi.export("metadata_table", metadata.table_name)

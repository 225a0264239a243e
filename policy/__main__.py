"""imgpipe policy pack entry point: ``pulumi preview --policy-pack policy``.

The Pulumi CLI runs this file with ``runpy.run_path(<pack dir>)``; the repository root is put on
``sys.path`` so the pack imports the same ``policy.rules`` the unit tests exercise. This is the
only place a ``PolicyPack`` is constructed: the constructor serves gRPC and never returns.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.pack import PACK_NAME, build_policies

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="imgpipe: private, versioned, CMK-encrypted, TLS-only buckets; least-privilege IAM; "
    "Lambda DLQ and log retention; DynamoDB CMK + PITR; authenticated API methods.",
)

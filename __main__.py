"""imgpipe: a serverless image pipeline on AWS.

Reads the stack config once, composes the components (``components/pipeline.py``, the same
wiring the package's ImagePipeline component uses), exports the output contract.
"""

import pulumi
import pulumi_aws as aws

from components import config as stack_config
from components.pipeline import build_pipeline

cfg = stack_config.load()
parts = build_pipeline(cfg, cfg.require_layer_zip())

for output, value in parts.outputs().items():
    pulumi.export(output, value)
pulumi.export("region", aws.get_region_output().region)

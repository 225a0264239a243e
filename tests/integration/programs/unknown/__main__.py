"""A bucket, then a resource type the local engine has no handler for."""

import pulumi_aws as aws

aws.s3.Bucket("fine")
aws.ec2.Vpc("network", cidr_block="10.0.0.0/16")

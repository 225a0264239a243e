"""imgpipe's infrastructure as Pulumi component resources (one resource family per module)."""

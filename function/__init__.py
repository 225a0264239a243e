"""imgpipe's Lambda function: a thin handler over pure image code.

The archive root holds this package, so the handler is ``function.handler.handler`` in the
Lambda and the program can import :mod:`function.variants` to validate stack config.
"""

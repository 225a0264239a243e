"""Upload-and-verify for an imgpipe stack, local or on AWS (``python -m verify --help``)."""

from verify.check import run_verify
from verify.outputs import OutputsError, load_outputs
from verify.report import VerifyReport

__all__ = ["OutputsError", "VerifyReport", "load_outputs", "run_verify"]

"""A warm Lambda execution environment for the local stack: one process, many invocations.

Started by ``localaws.functions`` as ``python -I worker.py <code dir> <handler>`` with the
function's environment. It imports the handler once (the cold start), then reads one JSON
request per line on stdin and answers one JSON line on the protocol pipe (the original stdout).
The handler's own prints and logs go to stderr, which the engine keeps in the function's log
file, like CloudWatch Logs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline_ms: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("IMGPIPE_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def main() -> None:
    code_dir, handler_spec = sys.argv[1], sys.argv[2]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's stdout joins its log (stderr)
    sys.stdout = sys.stderr
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    module_name, _, func_name = handler_spec.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        init_error = None
    except Exception as e:  # an init error fails every invocation, as on Lambda
        traceback.print_exc()
        handler, init_error = None, e
    for line in sys.stdin:
        request = json.loads(line)
        answer: dict[str, Any] = {"id": request["id"]}
        try:
            if init_error is not None:
                raise init_error
            context = LambdaContext(request["id"], request["deadline_ms"])
            result = handler(request["event"], context)
            answer.update(ok=True, result=result)
        except Exception as e:
            traceback.print_exc()
            answer.update(
                ok=False,
                error={
                    "errorType": type(e).__name__,
                    "errorMessage": str(e),
                    "stackTrace": traceback.format_exception(e)[-5:],
                },
            )
        sys.stderr.flush()
        try:
            protocol.write(json.dumps(answer, default=str) + "\n")
        except TypeError as e:
            protocol.write(
                json.dumps(
                    {
                        "id": request["id"],
                        "ok": False,
                        "error": {"errorType": "Runtime.MarshalError", "errorMessage": str(e)},
                    }
                )
                + "\n"
            )


if __name__ == "__main__":
    main()

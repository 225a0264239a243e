"""Who may drive the local stack: the control token, private state files, the Host check.

The local endpoints listen on 127.0.0.1 only, but a web page in the developer's browser can
still reach them: directly (a form POST to ``http://127.0.0.1:<port>/…``) or through DNS
rebinding (a hostname of the page's own that resolves to 127.0.0.1 after the page loaded, so
the browser treats the local endpoint as the page's origin). So:

* **Control token.** Endpoints that change how the stack behaves (``/_localaws/faults``) need
  the header ``X-Localaws-Token: <token>``; ``up`` writes a fresh random token to
  ``.local/control-token`` with mode 0600, so only the user who started the stack can read it.
  No header → 401, a wrong token → 403 (JSON ``{"message": …}`` saying what to send).
* **Private files.** ``outputs.json`` and ``state.json`` hold the API key: written 0600, in a
  0700 ``.local/``.
* **Host check.** Every request must name the endpoint itself in ``Host``
  (``127.0.0.1:<port>``, ``localhost:<port>`` or ``<name>.localhost:<port>``, which resolve to
  loopback by definition, RFC 6761); any other name (a rebinding domain) gets 403.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TOKEN_FILE = "control-token"
TOKEN_HEADER = "X-Localaws-Token"
_WSGI_TOKEN = "HTTP_" + TOKEN_HEADER.upper().replace("-", "_")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), also when it existed before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT: set it again
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
    finally:
        if fd >= 0:
            os.close(fd)


def private_dir(path: Path) -> Path:
    """``path`` created if missing and made 0700 (it holds the token and the API key)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def new_token(state_dir: Path) -> str:
    """A fresh random control token, written to ``<state_dir>/control-token`` (0600)."""
    token = secrets.token_urlsafe(32)
    write_private(private_dir(state_dir) / TOKEN_FILE, token + "\n")
    return token


def read_token(state_dir: Path) -> str:
    """The running stack's control token ('' when there is none)."""
    try:
        return (state_dir / TOKEN_FILE).read_text().strip()
    except OSError:
        return ""


def forget_token(state_dir: Path) -> None:
    (state_dir / TOKEN_FILE).unlink(missing_ok=True)


def token_refusal(sent: str | None, token: str) -> tuple[int, str] | None:
    """(status, message) refusing a control request, or None when ``sent`` is the token."""
    if not sent:
        return 401, (
            f"this local control endpoint needs the header {TOKEN_HEADER}: <token>; the token is in "
            f".local/{TOKEN_FILE} (written by `make up`, readable only by you)"
        )
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        return 403, f"wrong {TOKEN_HEADER}: use the token in .local/{TOKEN_FILE} of the running stack"
    return None


def host_allowed(host: str | None, port: int | str) -> bool:
    """Does ``Host`` name this loopback endpoint (and port) rather than some other domain?"""
    if not host:
        return False
    name, sep, host_port = host.strip().lower().rpartition(":")
    if not sep or host_port != str(port):
        return False
    return name in ("127.0.0.1", "localhost") or name.endswith(".localhost")


def host_refusal_message(host: str | None, port: int | str) -> str:
    return (
        f"Host {host!r} is not this local endpoint: use http://127.0.0.1:{port} (other names are "
        "refused so a web page cannot reach the local stack through DNS rebinding)"
    )


def host_guard(app: WSGIApp) -> WSGIApp:
    """WSGI middleware: 403 for any request whose ``Host`` is not this server's loopback address."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        port = environ.get("SERVER_PORT", "")
        host = environ.get("HTTP_HOST")
        if not host_allowed(host, port):
            body = json.dumps({"message": host_refusal_message(host, port)}).encode()
            start_response("403 Forbidden", [("Content-Type", "application/json")])
            return [body]
        return app(environ, start_response)

    return guarded


def wsgi_token(environ: dict[str, Any]) -> str | None:
    return environ.get(_WSGI_TOKEN)

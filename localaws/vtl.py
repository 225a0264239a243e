"""API Gateway mapping templates (VTL) rendered locally.

The Velocity engine is ``airspeed-ext`` (LocalStack's maintained fork, written for AWS parity:
undefined references render empty, ``true``/``false`` render in lower case). This module adds
what API Gateway puts in scope: ``$input``, ``$util``, ``$context`` and ``$stageVariables``,
following the AWS "mapping template and access logging variable reference".
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed
from airspeed import operators as _airspeed_ops

# Java's Map/List methods templates commonly call that airspeed does not provide for dicts.
# Registered once, process-wide: airspeed looks methods up by the value's class.
_airspeed_ops.__additional_methods__[dict].update(
    {
        "size": lambda self: len(self),
        "isEmpty": lambda self: len(self) == 0,
        "containsKey": lambda self, key: key in self,
        "entrySet": lambda self: [{"key": k, "value": v} for k, v in self.items()],
        "values": lambda self: list(self.values()),
    }
)

# Java's String.indexOf answers -1 when absent; airspeed's raises (str.index).
_airspeed_ops.__additional_methods__[str]["indexOf"] = lambda self, sub, start=0: self.find(sub, start)


# API Gateway runs Apache Velocity (Java), where a null condition is false and !null is true.
# airspeed treats a None condition as true and !None as false; restore Velocity's semantics so
# templates such as `#if(!$input.path('$.Item'))` (the 404 branch) behave as on AWS.
def _condition(self: Any, namespace: Any, loader: Any) -> bool:
    return bool(self.expression.calculate(namespace, loader))


def _negation(self: Any, namespace: Any, loader: Any) -> bool:
    return not self.value.calculate(namespace, loader)


_airspeed_ops.Condition.calculate = _condition
_airspeed_ops.UnaryOperatorValue.calculate = _negation


class TemplateError(Exception):
    """A mapping template could not be parsed or rendered (AWS answers 500 in that case)."""


# --- JSONPath (the subset API Gateway templates use: $, .name, ['name'], [index], .*) ---------

_JSONPATH_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_$][\w$-]*)|\.\*|\[(?P<index>-?\d+)\]|\[(?P<q>['"])(?P<key>.*?)(?P=q)\]|\[\*\]"""
)


def jsonpath(document: Any, path: str) -> Any:
    """Evaluate a simple JSONPath against ``document``; ``None`` when it does not resolve."""
    path = path.strip()
    if not path.startswith("$"):
        raise TemplateError(f"JSONPath must start with '$': {path!r}")
    values = [document]
    rest = path[1:]
    while rest:
        m = _JSONPATH_TOKEN.match(rest)
        if not m:
            raise TemplateError(f"unsupported JSONPath {path!r} (near {rest!r})")
        rest = rest[m.end() :]
        nxt: list[Any] = []
        for value in values:
            if m.group("name") is not None or m.group("key") is not None:
                key = m.group("name") if m.group("name") is not None else m.group("key")
                if isinstance(value, Mapping) and key in value:
                    nxt.append(value[key])
            elif m.group("index") is not None:
                i = int(m.group("index"))
                if isinstance(value, list) and -len(value) <= i < len(value):
                    nxt.append(value[i])
            elif isinstance(value, Mapping):  # wildcard
                nxt.extend(value.values())
            elif isinstance(value, list):
                nxt.extend(value)
        values = nxt
    if "*" in path:
        return values
    return values[0] if values else None


def _parse_body(body: str) -> Any:
    if not body.strip():
        return {}  # AWS treats an empty payload as an empty JSON object
    try:
        return json.loads(body)
    except ValueError:
        return body  # non-JSON payloads are addressable only as '$'


class InputVariable:
    """``$input``: the payload and the method request parameters."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]) -> None:
        self.body = body
        self._params = {
            "path": dict(params.get("path", {})),
            "querystring": dict(params.get("querystring", {})),
            "header": dict(params.get("header", {})),
        }

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for where in ("path", "querystring"):
            if name in self._params[where]:
                return self._params[where][name]
        for header, value in self._params["header"].items():  # headers are case-insensitive
            if header.lower() == name.lower():
                return value
        return ""

    def path(self, path: str) -> Any:
        return jsonpath(_parse_body(self.body), path)

    def json(self, path: str) -> str:
        return json.dumps(self.path(path))


class UtilVariable:
    """``$util``: the escaping and encoding helpers."""

    @staticmethod
    def escapeJavaScript(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        # Java's StringEscapeUtils: JSON-style escapes, plus ' -> \' (AWS documents this quirk).
        return json.dumps(text)[1:-1].replace("'", "\\'")

    @staticmethod
    def parseJson(value: str) -> Any:
        try:
            return json.loads(value)
        except ValueError as e:
            raise TemplateError(f"$util.parseJson: not JSON: {e}") from e

    @staticmethod
    def urlEncode(value: str) -> str:
        return quote_plus(str(value))

    @staticmethod
    def urlDecode(value: str) -> str:
        return unquote_plus(str(value))

    @staticmethod
    def base64Encode(value: str | bytes) -> str:
        data = value.encode() if isinstance(value, str) else value
        return base64.b64encode(data).decode()

    @staticmethod
    def base64Decode(value: str) -> str:
        return base64.b64decode(value).decode("utf-8", errors="replace")


@dataclass
class TemplateContext:
    """What a template sees besides its payload."""

    context: dict[str, Any] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)


def render(template: str, body: str, params: Mapping[str, Mapping[str, str]], ctx: TemplateContext) -> str:
    """Render ``template`` with ``$input`` built from ``body``/``params``.

    ``ctx.context`` is passed by reference so a template's ``#set($context.responseOverride.status
    = 404)`` is visible to the caller afterwards.
    """
    ctx.context.setdefault("responseOverride", {"status": None, "header": {}})
    namespace = {
        "input": InputVariable(body, params),
        "util": UtilVariable(),
        "context": ctx.context,
        "stageVariables": ctx.stage_variables,
    }
    try:
        return airspeed.Template(template).merge(namespace)
    except TemplateError:
        raise
    except Exception as e:  # airspeed raises its own and Python errors from method calls
        raise TemplateError(f"mapping template failed: {e}") from e

"""``aws.iam.get_policy_document`` rendered as the provider does, from wire-named arguments.

One renderer for every stand-in of the provider: the local engine's invokes and the unit tests' mocks.
Imports only ``json``, so the mocks can use it without loading moto.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def render(args: Mapping[str, Any]) -> str:
    """The document's JSON (indented, like the provider's ``json`` output)."""
    statements = []
    for s in args.get("statements") or []:
        out: dict[str, Any] = {}
        if s.get("sid"):
            out["Sid"] = s["sid"]
        out["Effect"] = s.get("effect") or "Allow"
        for key, wire in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if s.get(key):
                out[wire] = _one_or_list(list(s[key]))
        for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if s.get(key):
                principal: dict[str, list[str]] = {}
                for p in s[key]:
                    principal.setdefault(p["type"], []).extend(p.get("identifiers") or [])
                # identifiers are a set in the provider: sorted, no repeats; type "*" is the bare "*"
                out[wire] = (
                    "*"
                    if principal == {"*": ["*"]}
                    else {k: _one_or_list(sorted(set(v))) for k, v in principal.items()}
                )
        if s.get("conditions"):
            cond: dict[str, dict[str, Any]] = {}
            for c in s["conditions"]:
                cond.setdefault(c["test"], {})[c["variable"]] = _one_or_list(list(c["values"]))
            out["Condition"] = cond
        statements.append(out)
    doc: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        doc["Id"] = args["policyId"]
    doc["Statement"] = statements
    return json.dumps(doc, indent=2)


def minified(document: str) -> str:
    """The provider's ``minifiedJson`` output for a rendered document."""
    return json.dumps(json.loads(document), separators=(",", ":"))

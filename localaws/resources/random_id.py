"""pulumi-random: RandomId (name suffixes) and RandomString/RandomPassword."""

from __future__ import annotations

import base64
import secrets
import string
from typing import Any

from localaws.resources import Context, as_int, register


@register("random:index/randomId:RandomId")
class RandomId:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = secrets.token_bytes(as_int(inputs.get("byteLength")) or 8)
        prefix = inputs.get("prefix") or ""
        b64url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return prefix + b64url, {
            **inputs,
            "hex": prefix + raw.hex(),
            "b64Url": prefix + b64url,
            "b64Std": prefix + base64.b64encode(raw).decode(),
            "dec": prefix + str(int.from_bytes(raw, "big")),
        }

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        return None  # nothing exists outside the state


@register("random:index/randomString:RandomString")
@register("random:index/randomPassword:RandomPassword")
class RandomString:
    def create(self, ctx: Context, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        alphabet = string.ascii_letters if inputs.get("lower", True) else string.ascii_uppercase
        if inputs.get("numeric", True):
            alphabet += string.digits
        value = "".join(secrets.choice(alphabet) for _ in range(as_int(inputs.get("length")) or 16))
        return value, {**inputs, "result": value}

    def delete(self, ctx: Context, rid: str, state: dict[str, Any]) -> None:
        return None

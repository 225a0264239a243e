"""Checks a consumer's program against the committed package schema (provider/schema.json):
every ``imgpipe:`` type token it names exists, every property it sets is an input of that
component (recursively through the object types, with enum values among the enum's), every
required input is set, and every output it reads is an output of that component.

Two readers: a Pulumi YAML program (``Pulumi.yaml``), and a TypeScript program, whose
``new imgpipe.<Name>(name, {...})`` object literals are read with a small literal parser
(strings, numbers, booleans, arrays, objects; anything else is an expression, like YAML's
``${...}``, that the schema cannot check and is accepted as any value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PACKAGE = "imgpipe"


@dataclass(frozen=True)
class Expression:
    """A value the schema cannot check statically (``${res.out}``, a variable, a call)."""

    text: str


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    ref = spec.get("$ref", "")
    return schema["types"].get(ref.removeprefix("#/types/")) if ref.startswith("#/types/") else None


def check_value(schema: dict[str, Any], spec: dict[str, Any], value: Any, where: str) -> list[str]:
    """Problems with ``value`` given as the property ``spec`` (empty: fine)."""
    if isinstance(value, Expression) or (isinstance(value, str) and value.startswith("${")):
        return []
    typ = _resolve(schema, spec)
    if typ is not None and "enum" in typ:
        values = [member["value"] for member in typ["enum"]]
        return [] if value in values else [f"{where}: {value!r} is not one of {values}"]
    if typ is not None:
        return check_object(schema, typ, value, where)
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r}"]
        items = spec["items"]
        return [p for i, item in enumerate(value) for p in check_value(schema, items, item, f"{where}[{i}]")]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected a map, got {value!r}"]
        inner = spec.get("additionalProperties", {})
        return [p for k, v in value.items() for p in check_value(schema, inner, v, f"{where}.{k}")]
    python_types: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
    }
    expected = python_types.get(str(kind))
    if expected is None:  # Archive, Asset, Any: only expressions make them
        return []
    wrong = not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))
    return [f"{where}: expected {kind}, got {value!r}"] if wrong else []


def check_object(schema: dict[str, Any], typ: dict[str, Any], value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {value!r}"]
    properties = typ.get("properties", {})
    known = sorted(properties)
    problems = [f"{where}: no property {key!r} (it has {known})" for key in value if key not in properties]
    missing = [key for key in typ.get("required", []) if key not in value]
    problems += [f"{where}: required {key!r} is missing" for key in missing]
    for key, item in value.items():
        if key in properties:
            problems += check_value(schema, properties[key], item, f"{where}.{key}")
    return problems


def check_component(schema: dict[str, Any], token: str, inputs: Any, where: str) -> list[str]:
    resource = schema["resources"].get(token)
    if resource is None:
        return [f"{where}: {token} is not a component of the package (it has {sorted(schema['resources'])})"]
    as_type = {"properties": resource["inputProperties"], "required": resource.get("requiredInputs", [])}
    return check_object(schema, as_type, inputs if inputs is not None else {}, where)


def check_outputs(schema: dict[str, Any], token: str, names: set[str], where: str) -> list[str]:
    outputs = set(schema["resources"].get(token, {}).get("properties", {})) | {"urn"}
    known = sorted(outputs)
    return [f"{where}: {token} has no output {name!r} (it has {known})" for name in sorted(names - outputs)]


# --- Pulumi YAML --------------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def check_yaml_program(schema: dict[str, Any], program: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Problems, and resource name → token of the package's components the program declares."""
    problems: list[str] = []
    ours = {
        name: res["type"]
        for name, res in (program.get("resources") or {}).items()
        if str(res.get("type", "")).startswith(f"{PACKAGE}:")
    }
    for name, token in ours.items():
        problems += check_component(schema, token, program["resources"][name].get("properties"), name)
    read: dict[str, set[str]] = {}
    for text in _strings({k: v for k, v in program.items() if k in ("resources", "outputs", "variables")}):
        for resource, output in INTERPOLATION.findall(text):
            if resource in ours:
                read.setdefault(resource, set()).add(output)
    for resource, outputs in read.items():
        problems += check_outputs(schema, ours[resource], outputs, f"${{{resource}}}")
    return problems, ours


# --- TypeScript ---------------------------------------------------------------------------------


KEY = re.compile(r"\s*(?:([A-Za-z_$][\w$]*)|\"([^\"]*)\"|'([^']*)')\s*:")


class _Literal:
    """Recursive descent over a TypeScript object literal (after comments are removed)."""

    def __init__(self, text: str, pos: int) -> None:
        self.text, self.pos = text, pos

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.text[self.pos : self.pos + 40]!r}")
        self.pos += 1

    def value(self) -> Any:
        char = self.peek()
        if char == "{":
            return self._object()
        if char == "[":
            return self._array()
        if char in "\"'":
            return self._string()
        match = re.compile(r"(-?\d+(?:\.\d+)?)(?=\s*[,}\]\)])|(true|false)(?=\s*[,}\]\)])").match(
            self.text, self.pos
        )
        if match:
            self.pos = match.end()
            if match[2]:
                return match[2] == "true"
            return float(match[1]) if "." in match[1] else int(match[1])
        return self._expression()

    def _object(self) -> dict[str, Any]:
        self._expect("{")
        out: dict[str, Any] = {}
        while self.peek() != "}":
            key_match = KEY.match(self.text, self.pos)
            if not key_match:
                raise ValueError(f"expected a key at {self.text[self.pos : self.pos + 40]!r}")
            self.pos = key_match.end()
            key = next(group for group in key_match.groups() if group is not None)
            out[key] = self.value()
            if self.peek() == ",":
                self.pos += 1
        self._expect("}")
        return out

    def _array(self) -> list[Any]:
        self._expect("[")
        out: list[Any] = []
        while self.peek() != "]":
            out.append(self.value())
            if self.peek() == ",":
                self.pos += 1
        self._expect("]")
        return out

    def _string(self) -> str:
        quote = self.text[self.pos]
        end = self.text.index(quote, self.pos + 1)
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def _expression(self) -> Expression:
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            elif char in "\"'`":
                self.pos = self.text.index(char, self.pos + 1)
            self.pos += 1
        return Expression(self.text[start : self.pos].strip())


def _strip_comments(source: str) -> str:
    # line comments outside strings (the examples keep URLs in strings, not comments)
    out = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    return re.sub(r"(^|[^:\"'])//[^\n]*", r"\1", out)


NEW = re.compile(r"(?:const|let)\s+(\w+)\s*=\s*new\s+(\w+)\.(\w+)\s*\(\s*(?:\"[^\"]*\"|'[^']*'|`[^`]*`)\s*,")


def check_typescript_program(schema: dict[str, Any], source: str) -> tuple[list[str], dict[str, str]]:
    """Problems, and variable → token of each ``new <sdk>.<Name>(...)`` of the package's SDK."""
    text = _strip_comments(source)
    imported = re.search(r"import\s+\*\s+as\s+(\w+)\s+from\s+[\"']@pulumi/" + PACKAGE + r"[\"']", text)
    if not imported:
        return [f'no `import * as ... from "@pulumi/{PACKAGE}"` (the SDK pulumi package add generates)'], {}
    alias = imported[1]
    problems: list[str] = []
    made: dict[str, str] = {}
    for match in NEW.finditer(text):
        variable, module, name = match.groups()
        if module != alias:
            continue
        token = f"{PACKAGE}:index:{name}"
        made[variable] = token
        literal = _Literal(text, match.end())
        inputs = literal.value() if literal.peek() == "{" else None
        problems += check_component(schema, token, inputs, variable)
    for variable, token in made.items():
        used = set(re.findall(rf"\b{variable}\.(\w+)", text))
        problems += check_outputs(schema, token, used, variable)
    return problems, made

"""Before/after comparison of the program's resource graph, for refactors that must not change it.

A refactor of ``components/`` or ``__main__.py`` should leave what the engine receives
unchanged: the same URNs (a changed URN is a delete + create on a deployed stack), the same
inputs, dependencies and protect/retain flags, the same stack outputs. This module turns a
mock run (:func:`tests.unit.mocks.run_program`) into a normalized, JSON-comparable snapshot
and lists the differences between two snapshots.

No snapshot is committed: the graph changes on purpose with most features, so a stored copy
would need regenerating by every change and prove nothing about the refactor at hand. Take
one before the refactor and compare after it::

    git stash            # or check out the commit before the refactor
    .venv/bin/python -m tests.unit.graph_snapshot save /tmp/graph-before.json
    git stash pop
    .venv/bin/python -m tests.unit.graph_snapshot diff /tmp/graph-before.json

``diff`` prints one line per difference and exits 1 when there are any; each intended one
belongs in the commit message with its reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi

from tests.unit.mocks import Graph, run_program

STACKS = ("dev", "prod")


def _value(value: Any) -> Any:
    """A JSON-able form of one input: assets by their path, JSON documents parsed (readable diffs)."""
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        # the unit tests' layer zip lives in a fresh temporary directory each run: keep the name
        return {"file": Path(str(value.path)).name}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: _value(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, dict):
        return {k: _value(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return {"json": json.loads(value)}
        except json.JSONDecodeError:
            return value
    return value


def snapshot(graph: Graph) -> dict[str, Any]:
    """The graph as the engine would receive it, keyed by URN (stable across runs)."""
    resources = {}
    for res in graph.resources:
        resources[res.urn] = {
            "parent": res.parent,
            "inputs": _value(res.inputs),
            "dependencies": sorted(res.dependencies),
            "property_dependencies": {
                key: sorted(urns) for key, urns in sorted(res.property_dependencies.items()) if urns
            },
            "protect": res.protect,
            "retain_on_delete": res.retain_on_delete,
        }
    return {
        "resources": dict(sorted(resources.items())),
        "outputs": _value(graph.outputs),
        "secret_outputs": sorted(graph.secret_outputs),
    }


def stack_snapshots() -> dict[str, Any]:
    """Snapshots of the committed dev and prod stack configs."""
    from tests.unit.test_policy_graph import stack_config

    return {stack: snapshot(run_program(stack_config(stack), stack=stack)) for stack in STACKS}


def _walk(path: str, before: Any, after: Any) -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys(), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                yield f"- {sub}: {json.dumps(before[key], sort_keys=True)}"
            elif key not in before:
                yield f"+ {sub}: {json.dumps(after[key], sort_keys=True)}"
            else:
                yield from _walk(sub, before[key], after[key])
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _walk(f"{path}[{i}]", b, a)
    elif before != after:
        yield f"~ {path}: {json.dumps(before, sort_keys=True)} -> {json.dumps(after, sort_keys=True)}"


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per difference: ``- path: old`` (gone), ``+ path: new`` (added), ``~ path: old -> new``."""
    return list(_walk("", before, after))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.unit.graph_snapshot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=("save", "diff"))
    parser.add_argument("file", type=Path)
    opts = parser.parse_args(argv)
    current = stack_snapshots()
    if opts.command == "save":
        opts.file.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        count = sum(len(s["resources"]) for s in current.values())
        print(f"saved {count} resources ({', '.join(STACKS)}) to {opts.file}")
        return 0
    found = differences(json.loads(opts.file.read_text()), json.loads(json.dumps(current)))
    for line in found:
        print(line)
    print(f"{len(found)} difference(s) against {opts.file}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

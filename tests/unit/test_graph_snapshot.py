"""The graph comparison used to prove refactors leave the deployed graph alone
(``python -m tests.unit.graph_snapshot``): a snapshot is stable, and every kind of change shows."""

import copy
import json

from tests.unit.graph_snapshot import differences, snapshot
from tests.unit.mocks import Graph


def test_snapshot_is_plain_json_keyed_by_urn(dev: Graph) -> None:
    snap = snapshot(dev)
    assert json.loads(json.dumps(snap)) == snap
    assert len(snap["resources"]) == len(dev.resources)  # URNs are unique keys
    assert differences(snap, copy.deepcopy(snap)) == []


def test_every_kind_of_change_is_reported(dev: Graph) -> None:
    before = snapshot(dev)
    after = copy.deepcopy(before)
    fn = dev.one("aws:lambda/function:Function", "process")
    after["resources"][fn.urn]["inputs"]["memorySize"] = 2048
    after["resources"][fn.urn]["protect"] = True
    gone = dev.one("aws:sqs/queue:Queue").urn
    del after["resources"][gone]
    after["resources"]["urn:new"] = {"parent": ""}
    after["outputs"]["extra"] = "x"

    found = differences(before, after)

    assert f"~ resources.{fn.urn}.inputs.memorySize: 1536.0 -> 2048" in found
    assert f"~ resources.{fn.urn}.protect: false -> true" in found
    assert any(line.startswith(f"- resources.{gone}: ") for line in found)
    assert '+ resources.urn:new: {"parent": ""}' in found
    assert '+ outputs.extra: "x"' in found
    assert len(found) == 5

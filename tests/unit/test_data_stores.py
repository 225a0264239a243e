"""The tests' moto data stores (``tests/data_stores.py``) have the deployed table's key and indexes."""

from __future__ import annotations

from tests import data_stores
from tests.unit.mocks import Graph
from tests.unit.test_storage import child


def test_the_tests_metadata_table_is_the_deployed_one(dev: Graph) -> None:
    table = child(dev, "metadata", "aws:dynamodb/table:Table")
    assert table.inputs["hashKey"] == data_stores.HASH_KEY
    deployed = {i["name"]: (i["hashKey"], i["rangeKey"]) for i in table.inputs["globalSecondaryIndexes"]}
    assert deployed == data_stores.INDEXES

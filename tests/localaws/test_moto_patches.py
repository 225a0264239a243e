"""Every moto private name the local engine replaces or reads still exists, with the parameters
the engine's code uses (``localaws/moto_patches.py``): a moto upgrade that moves one fails here."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from localaws import moto_patches
from localaws.moto_patches import PRIVATE_NAMES, PrivateName

LOCALAWS = Path(moto_patches.__file__).parent


@pytest.mark.parametrize("name", PRIVATE_NAMES, ids=lambda n: f"{n.module}.{n.qualname}")
def test_moto_still_has_each_private_name(name: PrivateName) -> None:
    obj = moto_patches.original(name.module, name.qualname)  # AttributeError/ImportError if gone
    if name.params is None:
        return
    params = moto_patches.signature_params(obj)
    if name.replaced:
        # moto calls our replacement as it calls its own: the parameters must match exactly
        assert params == name.params, f"{name.module}.{name.qualname}{inspect.signature(obj)}"
    else:
        # we call moto's: every parameter we pass must still be there
        assert set(name.params) <= set(params), f"{name.module}.{name.qualname}{inspect.signature(obj)}"


def test_the_server_override_uses_attributes_moto_still_sets() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # not started
    for attr in moto_patches.SERVER_ATTRIBUTES:
        assert hasattr(server, attr), f"ThreadedMotoServer has no {attr} any more (MotoServer uses it)"


def test_a_replacement_of_a_name_moto_lost_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = PrivateName("moto.s3.notifications", "_no_such_function", "test", replaced=True)
    monkeypatch.setattr(moto_patches, "PRIVATE_NAMES", (*PRIVATE_NAMES, gone))
    with pytest.raises(moto_patches.MotoChangedError, match=r"moto has no moto\.s3\.notifications\._no_such"):
        moto_patches._replace(gone.module, gone.qualname, lambda: None)


def test_an_unlisted_replacement_is_refused() -> None:
    with pytest.raises(AssertionError, match="not listed in PRIVATE_NAMES"):
        moto_patches._replace("moto.s3.notifications", "send_event", lambda: None)


def _replaced_in_source() -> set[tuple[str, str]]:
    tree = ast.parse((LOCALAWS / "moto_patches.py").read_text())
    return {
        (node.args[0].value, node.args[1].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_replace"
        and all(isinstance(a, ast.Constant) for a in node.args[:2])
    }


def test_every_listed_replacement_is_made_here_and_only_listed_ones() -> None:
    listed = {(n.module, n.qualname) for n in PRIVATE_NAMES if n.replaced}
    overridden = {("moto.moto_server.threaded_moto_server", "ThreadedMotoServer._server_entry")}  # subclass
    assert _replaced_in_source() | overridden == listed


def test_no_other_localaws_module_imports_unlisted_moto_names() -> None:
    listed = {(n.module, n.qualname.split(".")[0]) for n in PRIVATE_NAMES}
    unlisted = []
    for path in sorted(LOCALAWS.rglob("*.py")):
        if path.name == "moto_patches.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moto"):
                for alias in node.names:
                    if node.module != "moto" and (node.module, alias.name) not in listed:
                        unlisted.append(
                            f"{path.relative_to(LOCALAWS)}: from {node.module} import {alias.name}"
                        )
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    text = ast.unparse(target)
                    assert not text.startswith(("moto.", "lambda_models.", "notifications.")), (
                        f"{path.name} assigns {text}: replace moto names through moto_patches._replace"
                    )
    assert unlisted == [], "list these in moto_patches.PRIVATE_NAMES (or go through moto_patches)"

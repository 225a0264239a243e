"""Upload-and-verify against the embedded local stack: the real program, handler and API.

The same ``run_verify`` runs against a real AWS stack (``make verify STACK=dev``, and the e2e
test): one set of assertions for both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from verify.__main__ import main
from verify.check import run_verify

pytestmark = pytest.mark.integration


def test_verify_passes_on_the_local_stack(local_stack: dict[str, Any]) -> None:
    report = run_verify(local_stack, timeout=90)
    assert report.ok, report.table(colour=False)
    subjects = {c.subject for c in report.checks}
    assert {"landscape via s3", "landscape via api", "exif-rotated via api", "api"} <= subjects
    assert {"heic via s3", "animated via api"} <= subjects  # issue 16's formats, both paths
    assert len(report.uploads) == 10


def test_cli_prints_table_and_writes_contact_sheet(
    local_stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(local_stack))
    sheet = tmp_path / "sheet.png"
    code = main(["--outputs", str(outputs), "--contact-sheet", str(sheet), "--via", "s3", "--timeout", "90"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS: " in out and f"contact sheet: {sheet.resolve()}" in out
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.width > 1000


def test_cli_exit_code_is_1_when_a_check_fails(
    local_stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "outputs.json"
    # A function name that does not exist: the deployed-variants check fails, the rest still runs.
    outputs.write_text(json.dumps({**local_stack, "function_name": "no-such-function"}))
    code = main(["--outputs", str(outputs), "--no-contact-sheet", "--via", "s3", "--timeout", "90"])
    out = capsys.readouterr().out
    assert code == 1
    assert "deployed variants" in out and "FAIL: " in out

"""The result of one upload-and-verify run: check rows, per-upload results, a printable table."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from function.variants import Variant
from verify.photos import TestPhoto


@dataclass
class Check:
    """One row of the table: one check of one upload (or of the stack/API as a whole)."""

    subject: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VariantResult:
    spec: Variant
    key: str
    data: bytes = b""
    format: str = ""
    width: int = 0
    height: int = 0


@dataclass
class UploadResult:
    photo: TestPhoto
    via: str
    bucket: str
    key: str
    version_id: str | None = None
    image_id: str = ""
    item: dict[str, Any] | None = None
    variants: dict[str, VariantResult] = field(default_factory=dict)
    seconds_to_done: float | None = None

    @property
    def subject(self) -> str:
        return f"{self.photo.name} via {self.via}"


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)
    uploads: list[UploadResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, subject: str, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(subject, name, ok, detail))
        return ok

    def table(self, colour: bool | None = None) -> str:
        """A fixed-width table, one row per check, and a summary line."""
        if colour is None:
            colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        headers = ("upload", "check", "result", "detail")
        rows = [(c.subject, c.name, "PASS" if c.ok else "FAIL", c.detail) for c in self.checks]
        widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(3)]

        def paint(text: str, ok: bool) -> str:
            if not colour:
                return text
            return f"\033[{'32' if ok else '31;1'}m{text}\033[0m"

        lines = [
            "  ".join(h.ljust(widths[i]) if i < 3 else h for i, h in enumerate(headers)),
            "  ".join("-" * w for w in widths) + "  " + "-" * 6,
        ]
        previous = None
        for check, row in zip(self.checks, rows, strict=True):
            subject = row[0] if row[0] != previous else ""
            previous = row[0]
            lines.append(
                "  ".join(
                    [
                        subject.ljust(widths[0]),
                        row[1].ljust(widths[1]),
                        paint(row[2].ljust(widths[2]), check.ok),
                        row[3],
                    ]
                ).rstrip()
            )
        failed = len(self.failures)
        summary = (
            f"{len(self.checks) - failed} passed, {failed} failed"
            f" ({len(self.uploads)} uploads, {self.seconds:.1f} s)"
        )
        lines += ["", paint(("PASS: " if self.ok else "FAIL: ") + summary, self.ok)]
        return "\n".join(lines)

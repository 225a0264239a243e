"""Pulumi assets and archives (as the mocks pass them) → zip bytes, like the provider uploads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pulumi


def _add_dir(zf: zipfile.ZipFile, root: Path, prefix: str) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            zf.write(path, f"{prefix}{path.relative_to(root).as_posix()}")


def _add(zf: zipfile.ZipFile, item: Any, name: str, base: Path) -> None:
    prefix = f"{name}/" if name else ""
    if isinstance(item, pulumi.FileArchive):
        path = base / item.path
        if path.is_dir():
            _add_dir(zf, path, prefix)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as src:
                for info in src.infolist():
                    if not info.is_dir():
                        zf.writestr(prefix + info.filename, src.read(info))
        else:
            raise ValueError(
                f"archive {item.path!r} is neither a directory nor a zip file (looked in {path})"
            )
    elif isinstance(item, pulumi.AssetArchive):
        for sub, asset in item.assets.items():
            _add(zf, asset, f"{prefix}{sub}".rstrip("/"), base)
    elif isinstance(item, pulumi.FileAsset):
        zf.write(base / item.path, name)
    elif isinstance(item, pulumi.StringAsset):
        zf.writestr(name, item.text)
    else:
        raise ValueError(f"cannot package {type(item).__name__} for the local stack (name {name!r})")


def archive_zip(archive: Any, base: Path) -> bytes:
    """Zip bytes of a FileArchive (dir or zip), AssetArchive, FileAsset or StringAsset."""
    if isinstance(archive, pulumi.FileArchive):
        path = base / archive.path
        if path.is_file() and zipfile.is_zipfile(path):
            return path.read_bytes()  # already a zip (the layer build): upload as is
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        _add(zf, archive, "", base)
    return buf.getvalue()

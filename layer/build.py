"""Build the Pillow/Powertools Lambda layer zip reproducibly, without Docker.

    python -m layer.build [--arch arm64|x86_64] [--python 3.12] [--out PATH] [--force]
    python -m layer.build --host --target .local/layer-host

The layer build asks pip for manylinux wheels of the function's architecture and Python version
(``--platform manylinux_2_28_<machine> --platform manylinux2014_<machine> --implementation cp
--only-binary=:all:``), installs them into ``<tmp>/python`` and zips that tree with sorted
entries, a fixed timestamp (1980-01-01), fixed permissions and a fixed compression level, so the
same inputs give a byte-identical zip and ``pulumi up`` does not churn the layer version.

Wheels are cached in ``~/.cache/imgpipe/wheels/<platform>`` (override: ``IMGPIPE_WHEEL_CACHE``);
a build first tries that cache alone, so repeated builds work offline. A stamp next to the zip
(hash of requirements, architecture, Python version and this file) skips unchanged rebuilds.

Architecture, first match wins: ``--arch``; env ``ARCH``; ``imgpipe:architecture`` in
``Pulumi.<STACK>.yaml`` (env ``STACK``, default ``dev``); ``arm64``.

``--host`` installs the same pins for the interpreter running this module (the local engine puts
that directory on the handler's path: manylinux aarch64 wheels cannot load on an x86_64 host).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

LAYER_DIR = Path(__file__).resolve().parent
ROOT = LAYER_DIR.parent
REQUIREMENTS = LAYER_DIR / "requirements.txt"
BUILD_DIR = LAYER_DIR / "build"
DEFAULT_ARCH = "arm64"
DEFAULT_PYTHON = "3.12"
# Lambda architecture name -> manylinux machine name.
ARCHITECTURES: dict[str, str] = {"arm64": "aarch64", "x86_64": "x86_64"}
# The earliest time a zip header can hold; any fixed value works, this one is the convention.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_LEVEL = 6  # zlib default: same size as 9 within 1%, 3x faster; fixed so bytes never vary
# Console scripts carry the build machine's interpreter path in their shebang: not reproducible,
# and Lambda never runs them. Bytecode is version- and path-specific; the runtime compiles lazily.
_SKIP_DIRS = {"__pycache__", "bin"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class LayerBuildError(RuntimeError):
    """A build input is wrong or pip could not provide the wheels; the message says how to fix it."""


@dataclass(frozen=True)
class BuildResult:
    path: Path
    sha256: str
    size: int
    skipped: bool
    """True when the stamp matched and the existing zip was kept."""


def _python_tag(python: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", python):
        raise LayerBuildError(f"--python must look like 3.12, got {python!r}")
    return python


def _arch(arch: str) -> str:
    if arch not in ARCHITECTURES:
        raise LayerBuildError(
            f"unknown architecture {arch!r}: use one of {sorted(ARCHITECTURES)} "
            "(the Lambda names; 'aarch64' is spelled 'arm64')"
        )
    return arch


def default_architecture(env: dict[str, str] | None = None, root: Path = ROOT) -> str:
    """The stack's architecture: env ``ARCH``, else ``imgpipe:architecture`` in the stack file."""
    env = dict(os.environ) if env is None else env
    if env.get("ARCH"):
        return _arch(env["ARCH"])
    stack_file = root / f"Pulumi.{env.get('STACK') or 'dev'}.yaml"
    if stack_file.is_file():
        import yaml  # pulumi's own dependency; imported late so --help stays instant

        try:
            doc = yaml.safe_load(stack_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise LayerBuildError(f"{stack_file.name} is not valid YAML: {exc}") from exc
        value = (doc.get("config") or {}).get("imgpipe:architecture")
        if value:
            try:
                return _arch(str(value))
            except LayerBuildError as exc:
                raise LayerBuildError(f"{stack_file.name}: {exc}") from exc
    return DEFAULT_ARCH


def default_zip_path(arch: str, python: str = DEFAULT_PYTHON) -> Path:
    return BUILD_DIR / f"layer-{arch}-py{python}.zip"


def platform_tags(arch: str) -> list[str]:
    machine = ARCHITECTURES[_arch(arch)]
    # Pillow 13 ships only manylinux_2_28 wheels (fine on the AL2023 runtimes); 2014 covers others.
    return [f"manylinux_2_28_{machine}", f"manylinux2014_{machine}"]


def wheel_cache(name: str) -> Path:
    base = os.environ.get("IMGPIPE_WHEEL_CACHE") or Path.home() / ".cache" / "imgpipe" / "wheels"
    return Path(base) / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inputs_hash(requirements: Path, *parts: str) -> str:
    """What decides the zip's bytes: the pins, the target platform, and this build script."""
    digest = hashlib.sha256()
    for blob in (requirements.read_bytes(), Path(__file__).read_bytes(), *(p.encode() for p in parts)):
        digest.update(hashlib.sha256(blob).digest())
    return digest.hexdigest()


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _pip_tail(proc: subprocess.CompletedProcess[str], lines: int = 6) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    useful = [line for line in text if not line.startswith("WARNING: Location")]
    return "\n    ".join(useful[-lines:]) or f"exit code {proc.returncode}"


def _install(requirements: Path, target: Path, cache: Path, target_args: list[str], what: str) -> None:
    """pip install from the wheel cache; on a miss, download into the cache first, then retry."""
    if not requirements.is_file():
        raise LayerBuildError(f"requirements file not found: {requirements}")
    install = ["install", "-q", "--no-compile", "--only-binary=:all:", "--target", str(target)]
    install += [*target_args, "-r", str(requirements)]
    offline = _pip([*install, "--no-index", "--find-links", str(cache)])
    if offline.returncode == 0:
        return
    shutil.rmtree(target, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    download = _pip(
        ["download", "-q", "--only-binary=:all:", "-d", str(cache), *target_args, "-r", str(requirements)]
    )
    if download.returncode != 0:
        raise LayerBuildError(
            f"could not download wheels for {what} from {requirements.name}; check network access to "
            f"PyPI and that every pin has a binary wheel for that platform.\n  pip said:\n    "
            f"{_pip_tail(download)}"
        )
    online = _pip([*install, "--no-index", "--find-links", str(cache)])
    if online.returncode != 0:
        raise LayerBuildError(f"pip could not install the wheels for {what}:\n    {_pip_tail(online)}")


def _layer_files(tree: Path) -> list[tuple[str, Path]]:
    """Every file to zip as (arcname, path), sorted by arcname so order never depends on the fs."""
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        rel_dir = Path(dirpath).relative_to(tree)
        # `bin/` is skipped only at the top of python/ (console scripts); packages may own a bin/.
        dirnames[:] = [
            d for d in dirnames if d != "__pycache__" and not (d in _SKIP_DIRS and rel_dir == Path("python"))
        ]
        for name in filenames:
            if name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            files.append(((rel_dir / name).as_posix(), path))
    return sorted(files)


def write_reproducible_zip(tree: Path, out: Path) -> None:
    """Zip ``tree`` so that the bytes depend only on the files' names and contents."""
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arcname, path in _layer_files(tree):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr carries the mode below
            # Fixed modes, never the checkout's umask: shared objects 755, everything else 644.
            mode = 0o755 if ".so" in Path(arcname).suffixes else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=ZIP_LEVEL)
    tmp.replace(out)


def _read_stamp(stamp: Path) -> dict[str, str]:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_layer(
    arch: str | None = None,
    python: str = DEFAULT_PYTHON,
    out: Path | None = None,
    requirements: Path = REQUIREMENTS,
    force: bool = False,
) -> BuildResult:
    """Build (or keep, when the stamp matches) the layer zip and return its path and sha256."""
    arch = _arch(arch) if arch else default_architecture()
    python = _python_tag(python)
    out = Path(out) if out else default_zip_path(arch, python)
    stamp = out.with_name(out.name + ".stamp")
    key = inputs_hash(requirements, "layer", arch, python)
    previous = _read_stamp(stamp)
    if not force and previous.get("inputs") == key and out.is_file():
        digest = _sha256(out)
        if digest == previous.get("sha256"):
            return BuildResult(out, digest, out.stat().st_size, skipped=True)
    tags = platform_tags(arch)
    target_args = [a for tag in tags for a in ("--platform", tag)]
    target_args += ["--implementation", "cp", "--python-version", python]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imgpipe-layer-") as tmp:
        tree = Path(tmp)
        what = f"{arch} ({tags[0]}, cp{python.replace('.', '')})"
        _install(
            requirements,
            tree / "python",
            wheel_cache(f"{tags[0]}-cp{python.replace('.', '')}"),
            target_args,
            what,
        )
        write_reproducible_zip(tree, out)
    digest = _sha256(out)
    stamp.write_text(json.dumps({"inputs": key, "sha256": digest}, sort_keys=True) + "\n")
    return BuildResult(out, digest, out.stat().st_size, skipped=False)


def host_tag() -> str:
    """This interpreter's wheel flavour, e.g. ``cp311-linux_x86_64`` (names the host cache)."""
    impl = sys.implementation.name[:2] if sys.implementation.name == "cpython" else sys.implementation.name
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{impl}{sys.version_info.major}{sys.version_info.minor}-{plat or platform.machine()}"


def install_host(target: Path | str, requirements: Path = REQUIREMENTS, force: bool = False) -> bool:
    """Install the layer's pins for this interpreter into ``target`` (a directory for sys.path).

    Returns False when ``target`` already holds exactly these pins (stamp matched), True after
    installing. The local engine runs the handler with ``target`` on its path.
    """
    target = Path(target)
    stamp = target / ".imgpipe-layer-stamp"
    key = inputs_hash(requirements, "host", host_tag())
    if not force and _read_stamp(stamp).get("inputs") == key:
        return False
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    _install(requirements, staging, wheel_cache(host_tag()), [], f"this host ({host_tag()})")
    (staging / stamp.name).write_text(json.dumps({"inputs": key}) + "\n")
    # Swap in whole, so a failed install never leaves a half-written target on the handler's path.
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.replace(target)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layer.build", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--arch", help="arm64 or x86_64 (default: env ARCH, then the stack config, then arm64)"
    )
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="Lambda Python version (default 3.12)")
    parser.add_argument("--out", type=Path, help="zip path (default layer/build/layer-<arch>-py<python>.zip)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    parser.add_argument("--host", action="store_true", help="install the pins for this interpreter instead")
    parser.add_argument("--target", type=Path, help="with --host: directory to install into")
    args = parser.parse_args(argv)
    try:
        if args.host:
            if not args.target:
                parser.error("--host needs --target DIR (e.g. .local/layer-host)")
            changed = install_host(args.target, force=args.force)
            state = "installed" if changed else "up to date (stamp matches)"
            print(f"host layer {state}: {args.target} ({host_tag()})")
            return 0
        result = build_layer(args.arch, args.python, args.out, force=args.force)
    except LayerBuildError as exc:
        print(f"layer build failed: {exc}", file=sys.stderr)
        return 1
    state = "up to date (stamp matches)" if result.skipped else "built"
    shown = result.path.relative_to(ROOT) if result.path.is_relative_to(ROOT) else result.path
    print(f"layer {state}: {shown}  {result.size / 1e6:.1f} MB  sha256 {result.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

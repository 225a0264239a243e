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

Nothing unverified goes into the layer: ``layer/requirements.txt`` is a hash lock (``make lock``),
every cached wheel of a locked version is checked against its sha256 before pip may use it (pip
then checks again, in --require-hashes mode), and the installed tree must hold exactly the locked
packages. The zip's own sha256 per architecture is recorded in ``layer/digests.json``: a build
whose zip differs fails (``--record-digests`` rebuilds both and records them, for a deliberate
change), so CI notices when the layer changes without anyone meaning it to.

Bytecode: Lambda's ``/opt`` is read-only, so a layer without ``__pycache__`` makes every cold
start compile Pillow and Powertools from source (~180 ms with Python 3.12.1). So
the build compiles the layer's bytecode (``compileall``, hash-checked, paths as Lambda sees them)
with an interpreter of the runtime's version, found by :func:`find_python` (env
``IMGPIPE_BYTECODE_PYTHON``, this interpreter, ``python3.12`` on PATH, pyenv's). Its output is
deterministic but belongs to that exact release, so ``layer/digests.json`` records the zip's digest
with bytecode per interpreter release (``sha256_with_bytecode``) next to the one without
(``sha256``): a machine without that release builds the layer without bytecode, and says so.

Architecture, first match wins: ``--arch``; env ``ARCH``; ``imgpipe:architecture`` in
``Pulumi.<STACK>.yaml`` (env ``STACK``, default ``dev``); ``arm64``.

``--host`` installs the same pins for the interpreter running this module (the local engine puts
that directory on the handler's path: manylinux aarch64 wheels cannot load on an x86_64 host).
"""

from __future__ import annotations

import argparse
import functools
import glob
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
from typing import Any

LAYER_DIR = Path(__file__).resolve().parent
ROOT = LAYER_DIR.parent
REQUIREMENTS = LAYER_DIR / "requirements.txt"
DIGESTS = LAYER_DIR / "digests.json"
BUILD_DIR = LAYER_DIR / "build"
DEFAULT_ARCH = "arm64"
DEFAULT_PYTHON = "3.12"
# Lambda architecture name -> manylinux machine name.
ARCHITECTURES: dict[str, str] = {"arm64": "aarch64", "x86_64": "x86_64"}
# The earliest time a zip header can hold; any fixed value works, this one is the convention.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Lambda's quota on a function's code plus all its layers, extracted (AccountLimit.CodeSizeUnzipped,
# https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html): 250 MB.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
ZIP_LEVEL = 6  # zlib default: same size as 9 within 1%, 3x faster; fixed so bytes never vary
# Console scripts carry the build machine's interpreter path in their shebang: not reproducible,
# and Lambda never runs them. Bytecode goes in only as compile_bytecode() writes it.
_SKIP_DIRS = {"bin"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
# Where Lambda extracts a layer's python/ directory, on the runtime's sys.path
# (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths):
# compiled into the bytecode so tracebacks name the files Lambda has.
LAMBDA_SITE = "/opt/python"
BYTECODE_PYTHON_ENV = "IMGPIPE_BYTECODE_PYTHON"


class LayerBuildError(RuntimeError):
    """A build input is wrong or pip could not provide the wheels; the message says how to fix it."""


@dataclass(frozen=True)
class BuildResult:
    path: Path
    sha256: str
    size: int
    skipped: bool
    """True when the stamp matched and the existing zip was kept."""
    bytecode: str | None = None
    """The interpreter release (``3.12.1``) whose bytecode the zip holds; None: no bytecode."""
    note: str = ""
    """Why a build went without bytecode, for the user; empty otherwise."""


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


def _canonical(name: str) -> str:
    """PEP 503 name: ``typing_extensions`` and ``Typing-Extensions`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class LockedPin:
    name: str
    version: str
    hashes: frozenset[str]


def read_lock(requirements: Path) -> dict[str, LockedPin]:
    """``name==version`` and its ``--hash=sha256:`` values for every entry of a hash lock."""
    text = requirements.read_text().replace("\\\n", " ")
    pins: dict[str, LockedPin] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"([A-Za-z0-9][\w.-]*)==([\w.+!-]+)\s*(.*)$", line)
        if not match or ";" in match[3]:
            raise LayerBuildError(
                f"{requirements.name}: {line.split()[0]!r} is not a plain name==version line of a hash "
                "lock; edit layer/requirements.in and run `make lock`"
            )
        hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", match[3]))
        if not hashes:
            raise LayerBuildError(
                f"{requirements.name}: {match[1]}=={match[2]} has no --hash=sha256: the layer is built only "
                "from a hash lock; run `make lock`"
            )
        pins[_canonical(match[1])] = LockedPin(match[1], match[2], hashes)
    if not pins:
        raise LayerBuildError(f"{requirements.name} pins nothing; run `make lock`")
    return pins


def _wheel_pin(path: Path) -> tuple[str, str]:
    """(canonical name, version) from a wheel's file name (PEP 427: name-version-...-tags.whl)."""
    parts = path.name[: -len(".whl")].split("-")
    return _canonical(parts[0]), parts[1]


def verify_cache(cache: Path, pins: dict[str, LockedPin]) -> int:
    """Check every cached wheel of a locked version against the lock's sha256s; return how many.

    Runs before pip may install from the cache, so a wheel that was swapped or corrupted on
    disk (or on its way from the index) never reaches the layer; the error says which file and
    how to get a good one.
    """
    checked = 0
    for wheel in sorted(cache.glob("*.whl")) if cache.is_dir() else []:
        name, version = _wheel_pin(wheel)
        pin = pins.get(name)
        if pin is None or pin.version != version:
            continue  # another version: pip cannot pick it (the lock pins ==, with hashes)
        digest = _sha256(wheel)
        if digest not in pin.hashes:
            raise LayerBuildError(
                f"{wheel} has sha256 {digest}, which is not one of the hashes locked for "
                f"{pin.name}=={pin.version} in layer/requirements.txt: the file is not the released "
                f"wheel. Delete it (rm {wheel}) and build again to download it afresh; if the lock itself "
                "should change, edit layer/requirements.in and run `make lock`."
            )
        checked += 1
    return checked


def check_installed(tree: Path, pins: dict[str, LockedPin]) -> None:
    """The installed tree holds exactly the locked packages, at the locked versions."""
    installed: dict[str, str] = {}
    for info in tree.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        installed[_canonical(name)] = version
    expected = {name: pin.version for name, pin in pins.items()}
    if installed != expected:
        extra = sorted(f"{n}=={v}" for n, v in installed.items() if expected.get(n) != v)
        missing = sorted(f"{n}=={v}" for n, v in expected.items() if installed.get(n) != v)
        raise LayerBuildError(
            f"the layer would hold other packages than layer/requirements.txt locks "
            f"(not locked: {extra or 'none'}; missing: {missing or 'none'}); run `make lock`"
        )


def _recorded(path: Path, section: str) -> dict[str, Any]:
    """One section of ``layer/digests.json`` (empty when the file or section is missing)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise LayerBuildError(
            f"{path.name} is not valid JSON ({exc}); `make layer-digests` rewrites it"
        ) from exc
    table = data.get(section, {}) if isinstance(data, dict) else {}
    return table if isinstance(table, dict) else {}


def recorded_digests(path: Path = DIGESTS) -> dict[str, str]:
    """Zip file name → expected sha256, from ``layer/digests.json``."""
    return {str(k): str(v) for k, v in _recorded(path, "sha256").items()}


def recorded_bytecode_digests(path: Path = DIGESTS) -> dict[str, dict[str, str]]:
    """Interpreter release → zip file name → expected sha256 of the zip with that release's bytecode."""
    table = _recorded(path, "sha256_with_bytecode")
    return {str(r): {str(k): str(v) for k, v in d.items()} for r, d in table.items() if isinstance(d, dict)}


def check_digest(result: BuildResult, name: str, path: Path = DIGESTS) -> None:
    """Fail when the zip is not the one recorded under ``name`` (``layer-<arch>-py<python>.zip``)
    for its bytecode (none, or one interpreter release's), and move it aside."""
    if result.bytecode:
        expected = recorded_bytecode_digests(path).get(result.bytecode, {}).get(name)
    else:
        expected = recorded_digests(path).get(name)
    if expected == result.sha256:
        return
    # Moved aside, so neither `pulumi up` nor the stamp ever takes an unexpected zip for good.
    aside = result.path.with_name(result.path.name + ".unexpected")
    result.path.replace(aside)
    result.path.with_name(result.path.name + ".stamp").unlink(missing_ok=True)
    recorded = f"{path.name} records sha256 {expected}" if expected else f"{path.name} records none"
    shown = result.path.name if result.path.name == name else f"{result.path.name} ({name})"
    if result.bytecode:
        shown += f" with Python {result.bytecode}'s bytecode"
    raise LayerBuildError(
        f"{shown} has sha256 {result.sha256} but {recorded} "
        f"(the zip is kept as {aside.name}).\n"
        "  The layer's bytes changed. If you meant it (layer/requirements.in + `make lock`, or a change "
        "to layer/build.py), record the new digests with `make layer-digests` and commit "
        f"layer/{path.name}. If you did not, do not deploy this zip: a wheel or the build is not what "
        "was reviewed."
    )


@functools.cache  # a subprocess per candidate; record_digests asks for each build
def _release(python: str) -> str | None:
    """``3.12.1`` for a working CPython at ``python`` (its bytecode is what Lambda's CPython
    reads), None for anything else: a missing file, a pyenv shim of a version not selected."""
    probe = "import platform, sys; print(platform.python_version(), sys.implementation.cache_tag)"
    try:
        proc = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    release, _, tag = proc.stdout.strip().partition(" ")
    major_minor = ".".join(release.split(".")[:2]).replace(".", "")
    return release if proc.returncode == 0 and tag == f"cpython-{major_minor}" else None


def find_python(version: str, env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(path, release) of a CPython ``version`` (``3.12``) to compile the layer's bytecode with:
    env ``IMGPIPE_BYTECODE_PYTHON`` (an error when it is not one), else the first of this
    interpreter, ``python3.12`` on PATH and pyenv's ``~/.pyenv/versions/3.12.*``; None: none."""
    env = dict(os.environ) if env is None else env
    explicit = env.get(BYTECODE_PYTHON_ENV, "")
    if explicit:
        release = _release(explicit)
        if release is None or not release.startswith(f"{version}."):
            found = f"Python {release}" if release else "not a working CPython"
            raise LayerBuildError(
                f"{BYTECODE_PYTHON_ENV}={explicit} is {found}, but the layer's bytecode must come from "
                f"CPython {version} (the Lambda runtime's): point it at one, or unset it"
            )
        return explicit, release
    pyenv = glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}"))
    for python in [sys.executable, shutil.which(f"python{version}"), *sorted(pyenv, reverse=True)]:
        release = _release(python) if python else None
        if release and release.startswith(f"{version}."):
            return str(python), release
    return None


def compile_bytecode(site: Path, python: str) -> None:
    """Compile every module under ``site`` with ``python``: hash-checked ``.pyc`` (valid whatever
    the files' times; the source wins if they ever differ), paths as Lambda sees them
    (:data:`LAMBDA_SITE`), a fixed hash seed so sets of constants come out in one order."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONHASHSEED"] = "0"
    cmd = [python, "-s", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "checked-hash"]
    proc = subprocess.run(
        [*cmd, "-d", LAMBDA_SITE, str(site)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise LayerBuildError(f"{python} could not compile the layer's bytecode:\n    {_pip_tail(proc)}")


def _bytecode_python(
    python: str, wanted: bool | None, name: str, digests: Path | None
) -> tuple[str | None, str | None, str]:
    """(interpreter, release, note) for this build; ``wanted`` None: bytecode when a Python
    ``python`` is found whose bytecode ``digests`` vouches for (any, with ``digests`` None)."""
    if wanted is False:
        return None, None, ""
    found = find_python(python)
    if found is None:
        note = (
            f"no CPython {python} found to compile the layer's bytecode, so it has none: Lambda then "
            f"compiles Pillow and Powertools at every cold start (~180 ms). Install Python {python} (or set "
            f"{BYTECODE_PYTHON_ENV}) and build again."
        )
        if wanted:
            raise LayerBuildError(note)
        return None, None, note
    interpreter, release = found
    recorded = recorded_bytecode_digests(digests).get(release, {}) if digests is not None else {}
    if wanted is None and digests is not None and name not in recorded:
        note = (
            f"Python {release} ({interpreter}) would compile bytecode that layer/{digests.name} has no "
            f"digest for, so the layer has none; `make layer-digests` records it after review."
        )
        return None, None, note
    return interpreter, release, ""


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _pip_tail(proc: subprocess.CompletedProcess[str], lines: int = 6) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    useful = [line for line in text if not line.startswith("WARNING: Location")]
    return "\n    ".join(useful[-lines:]) or f"exit code {proc.returncode}"


def _install(requirements: Path, target: Path, cache: Path, target_args: list[str], what: str) -> None:
    """pip install from the wheel cache; on a miss, download into the cache first, then retry.

    The lock is compiled for the target (no markers), so --no-deps: pip must not re-resolve it with
    this host's markers. --require-hashes: pip checks each wheel too, after verify_cache did.
    """
    if not requirements.is_file():
        raise LayerBuildError(f"requirements file not found: {requirements}")
    pins = read_lock(requirements)
    locked = ["--require-hashes", "--no-deps", "--only-binary=:all:", *target_args, "-r", str(requirements)]
    install = ["install", "-q", "--no-compile", "--target", str(target), *locked]
    verify_cache(cache, pins)
    offline = _pip([*install, "--no-index", "--find-links", str(cache)])
    if offline.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        cache.mkdir(parents=True, exist_ok=True)
        download = _pip(["download", "-q", "-d", str(cache), *locked])
        if download.returncode != 0:
            raise LayerBuildError(
                f"could not download wheels for {what} from {requirements.name}; check network access to "
                f"PyPI and that every pin has a binary wheel for that platform.\n  pip said:\n    "
                f"{_pip_tail(download)}"
            )
        verify_cache(cache, pins)
        online = _pip([*install, "--no-index", "--find-links", str(cache)])
        if online.returncode != 0:
            raise LayerBuildError(f"pip could not install the wheels for {what}:\n    {_pip_tail(online)}")
    check_installed(target, pins)


def drop_unshipped_records(site: Path) -> int:
    """Remove from each ``*.dist-info/RECORD`` the console scripts pip put outside ``site``
    (``../../bin/…``, not shipped): pip rewrites their shebang to the interpreter running it, so
    their recorded hash, and with it the zip, would depend on where the checkout's venv lives
    (a fresh clone in CI builds in another folder). Returns how many lines were dropped."""
    dropped = 0
    for record in sorted(site.glob("*.dist-info/RECORD")):
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../")]
        if len(kept) != len(lines):
            record.write_text("".join(kept))
            dropped += len(lines) - len(kept)
    return dropped


def _layer_files(tree: Path, cache_tag: str | None = None) -> list[tuple[str, Path]]:
    """Every file to zip as (arcname, path), sorted by arcname so order never depends on the fs.

    Bytecode only with ``cache_tag`` (``cpython-312``), and only that interpreter's plain ``.pyc``.
    """
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(tree):
        rel_dir = Path(dirpath).relative_to(tree)
        # `bin/` is skipped only at the top of python/ (console scripts); packages may own a bin/.
        dirnames[:] = [
            d
            for d in dirnames
            if (d != "__pycache__" or cache_tag) and not (d in _SKIP_DIRS and rel_dir == Path("python"))
        ]
        for name in filenames:
            ours = cache_tag and rel_dir.name == "__pycache__" and name.endswith(f".{cache_tag}.pyc")
            if name.endswith(_SKIP_SUFFIXES) and not ours:
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            files.append(((rel_dir / name).as_posix(), path))
    return sorted(files)


def write_reproducible_zip(tree: Path, out: Path, cache_tag: str | None = None) -> None:
    """Zip ``tree`` so that the bytes depend only on the files' names and contents."""
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arcname, path in _layer_files(tree, cache_tag):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr carries the mode below
            # Fixed modes, never the checkout's umask: shared objects 755, everything else 644.
            mode = 0o755 if ".so" in Path(arcname).suffixes else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=ZIP_LEVEL)
    tmp.replace(out)


def unzipped_size(path: Path) -> int:
    """Bytes the layer takes once Lambda extracts it (counts against :data:`LAMBDA_UNZIPPED_LIMIT`)."""
    with zipfile.ZipFile(path) as zf:
        return sum(info.file_size for info in zf.infolist())


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
    digests: Path | None = DIGESTS,
    bytecode: bool | None = None,
) -> BuildResult:
    """Build (or keep, when the stamp matches) the layer zip and return its path and sha256.

    With the repository's lock, the zip must have the sha256 that ``digests`` records for it
    (``digests=None`` skips that, for ``--record-digests`` and for builds of other inputs).
    ``bytecode``: True requires it, False leaves it out, None (default) adds it when
    :func:`_bytecode_python` finds an interpreter whose output is recorded.
    """
    if requirements != REQUIREMENTS:
        digests = None  # the recorded digests are those of the repository's lock
    arch = _arch(arch) if arch else default_architecture()
    python = _python_tag(python)
    out = Path(out) if out else default_zip_path(arch, python)
    name = default_zip_path(arch, python).name
    interpreter, release, note = _bytecode_python(python, bytecode, name, digests)
    stamp = out.with_name(out.name + ".stamp")
    key = inputs_hash(requirements, "layer", arch, python, f"bytecode {release}")
    previous = _read_stamp(stamp)
    if not force and previous.get("inputs") == key and out.is_file():
        digest = _sha256(out)
        if digest == previous.get("sha256"):
            kept = BuildResult(out, digest, out.stat().st_size, skipped=True, bytecode=release, note=note)
            if digests is not None:
                check_digest(kept, name, digests)
            return kept
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
        drop_unshipped_records(tree / "python")
        if interpreter:
            compile_bytecode(tree / "python", interpreter)
        write_reproducible_zip(tree, out, f"cpython-{python.replace('.', '')}" if interpreter else None)
    digest = _sha256(out)
    stamp.write_text(json.dumps({"inputs": key, "sha256": digest}, sort_keys=True) + "\n")
    result = BuildResult(out, digest, out.stat().st_size, skipped=False, bytecode=release, note=note)
    if digests is not None:
        check_digest(result, name, digests)
    return result


def record_digests(python: str = DEFAULT_PYTHON, path: Path = DIGESTS) -> dict[str, str]:
    """Rebuild the layer for every architecture, without bytecode and (when :func:`find_python`
    finds a CPython ``python``) with it, and record the zips' sha256 in ``path``."""

    def build(arch: str, bytecode: bool) -> BuildResult:
        return build_layer(arch, python, force=True, digests=None, bytecode=bytecode)

    plain = {arch: build(arch, False) for arch in ARCHITECTURES}
    compiled = {arch: build(arch, True) for arch in ARCHITECTURES} if find_python(python) else {}
    recorded = recorded_digests(path) if path.is_file() else {}
    recorded.update({default_zip_path(arch, python).name: r.sha256 for arch, r in plain.items()})
    with_bytecode = recorded_bytecode_digests(path) if path.is_file() else {}
    for arch, r in compiled.items():
        with_bytecode.setdefault(str(r.bytecode), {})[default_zip_path(arch, python).name] = r.sha256
    doc = {
        "//": "sha256 of each layer zip `make layer` builds from layer/requirements.txt, without bytecode "
        "and with each recorded CPython release's; a build with another digest fails. Update only for a "
        "deliberate layer change: make layer-digests",
        "sha256": dict(sorted(recorded.items())),
        "sha256_with_bytecode": {r: dict(sorted(d.items())) for r, d in sorted(with_bytecode.items())},
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    shown = {default_zip_path(a, python).name: r.sha256 for a, r in plain.items()}
    for arch, r in compiled.items():
        shown[f"{default_zip_path(arch, python).name} (Python {r.bytecode})"] = r.sha256
    return shown


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
    parser.add_argument(
        "--record-digests",
        action="store_true",
        help="rebuild every architecture and record the zips' sha256 in layer/digests.json",
    )
    args = parser.parse_args(argv)
    try:
        if args.record_digests:
            for name, digest in record_digests(args.python).items():
                print(f"recorded {name}  sha256 {digest}")
            return 0
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
    extracted = unzipped_size(result.path)
    compiled = f"Python {result.bytecode}'s bytecode" if result.bytecode else "no bytecode"
    print(
        f"layer {state}: {shown}  {result.size / 1e6:.1f} MB ({extracted / 1e6:.1f} MB unzipped, "
        f"{extracted / LAMBDA_UNZIPPED_LIMIT:.0%} of Lambda's 250 MB, {compiled})  sha256 {result.sha256}"
    )
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The layer build: reproducible bytes, Pillow for the right platform, clear errors; only
hash-verified wheels go in and the zips have the digests recorded in layer/digests.json.

Builds download from PyPI the first time (wheels are cached in ~/.cache/imgpipe/wheels), then run
from the cache. One build per architecture per session, plus one rebuild to compare bytes.
"""

from __future__ import annotations

import json
import platform
import re
import struct
import sys
import zipfile
from pathlib import Path

import pytest

from layer import build

# ELF e_machine values: what the shared objects were compiled for.
ELF_MACHINE = {"arm64": 183, "x86_64": 62}
MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}


@pytest.fixture(scope="session")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, build.BuildResult]:
    out = tmp_path_factory.mktemp("layers")
    return {
        arch: build.build_layer(arch, out=out / f"layer-{arch}-py3.12.zip", force=True)
        for arch in ("arm64", "x86_64")
    }


def _elf_machine(blob: bytes) -> int:
    assert blob[:4] == b"\x7fELF", "not an ELF shared object"
    return struct.unpack_from("<H", blob, 18)[0]


def test_same_inputs_give_byte_identical_zip(layers, tmp_path: Path) -> None:
    again = build.build_layer("arm64", out=tmp_path / "again.zip", force=True)
    first = layers["arm64"]
    assert not again.skipped
    assert again.sha256 == first.sha256
    assert again.path.read_bytes() == first.path.read_bytes()


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_zip_holds_pillow_for_the_architecture(layers, arch: str) -> None:
    with zipfile.ZipFile(layers[arch].path) as zf:
        names = zf.namelist()
        assert "python/PIL/__init__.py" in names
        assert any(n.startswith("python/aws_lambda_powertools/") for n in names)
        imaging = [n for n in names if n.startswith("python/PIL/_imaging.cpython-312-")]
        assert imaging == [f"python/PIL/_imaging.cpython-312-{MACHINE[arch]}-linux-gnu.so"]
        assert _elf_machine(zf.read(imaging[0])) == ELF_MACHINE[arch]
        wheel = next(n for n in names if n.startswith("python/pillow-") and n.endswith(".dist-info/WHEEL"))
        tags = [
            line.split(": ", 1)[1] for line in zf.read(wheel).decode().splitlines() if line.startswith("Tag")
        ]
        assert tags and all(t.startswith("cp312-cp312-manylinux") for t in tags)
        assert all(t.endswith(f"_{MACHINE[arch]}") for t in tags)


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_zip_holds_pillow_heif_for_the_architecture(layers, arch: str) -> None:
    """HEIC decoding (issue 16): libheif's binding and its bundled libraries, built for the arch."""
    with zipfile.ZipFile(layers[arch].path) as zf:
        names = zf.namelist()
        assert "python/pillow_heif/__init__.py" in names
        binding = [n for n in names if n.startswith("python/_pillow_heif.cpython-312-")]
        assert binding == [f"python/_pillow_heif.cpython-312-{MACHINE[arch]}-linux-gnu.so"]
        assert _elf_machine(zf.read(binding[0])) == ELF_MACHINE[arch]
        libs = [n for n in names if n.startswith("python/pillow_heif.libs/") and ".so" in n]
        assert any("libheif" in n for n in libs), libs
        assert all(_elf_machine(zf.read(n)) == ELF_MACHINE[arch] for n in libs)


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_zip_holds_pillow_avif_plugin_with_svt_for_the_architecture(layers, arch: str) -> None:
    """AVIF encoding with SVT-AV1: the plugin's binding and its libavif (SVT-AV1, libaom, dav1d)."""
    with zipfile.ZipFile(layers[arch].path) as zf:
        names = zf.namelist()
        binding = [n for n in names if n.startswith("python/pillow_avif/_avif.cpython-312-")]
        assert binding == [f"python/pillow_avif/_avif.cpython-312-{MACHINE[arch]}-linux-gnu.so"]
        libavif = [n for n in names if n.startswith("python/pillow_avif_plugin.libs/libavif")]
        assert len(libavif) == 1 and _elf_machine(zf.read(libavif[0])) == ELF_MACHINE[arch]
        assert b"SVT [build]" in zf.read(libavif[0])  # the SVT-AV1 encoder is linked in


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_unzipped_layer_stays_well_under_lambdas_limit(layers, arch: str) -> None:
    # The function's own code shares the 250 MB; half of it is the layer's budget.
    extracted = build.unzipped_size(layers[arch].path)
    assert 10_000_000 < extracted < build.LAMBDA_UNZIPPED_LIMIT // 2, f"{extracted / 1e6:.1f} MB"


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_zip_is_normalised(layers, arch: str) -> None:
    with zipfile.ZipFile(layers[arch].path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    # bytecode only as the build compiles it: the runtime's plain .pyc, in __pycache__
    pyc = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert all(n.endswith(".cpython-312.pyc") and n.split("/")[-2] == "__pycache__" for n in pyc), pyc[:5]
    assert bool(pyc) == bool(layers[arch].bytecode)
    assert not [n for n in names if n.startswith("python/bin/")], "console scripts embed host paths"
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
    assert {m for n, m in modes.items() if n.endswith((".py", ".pyc"))} == {0o644}
    assert {m for n, m in modes.items() if n.endswith(".so")} == {0o755}


def test_unchanged_inputs_skip_the_rebuild(layers) -> None:
    first = layers["arm64"]
    again = build.build_layer("arm64", out=first.path)
    assert again.skipped and again.sha256 == first.sha256


def test_stamp_depends_on_arch_python_and_requirements(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("pillow==13.0.0\n")
    base = build.inputs_hash(reqs, "layer", "arm64", "3.12")
    assert base == build.inputs_hash(reqs, "layer", "arm64", "3.12")
    assert base != build.inputs_hash(reqs, "layer", "x86_64", "3.12")
    assert base != build.inputs_hash(reqs, "layer", "arm64", "3.13")
    reqs.write_text("pillow==12.0.0\n")
    assert base != build.inputs_hash(reqs, "layer", "arm64", "3.12")


@pytest.mark.parametrize("arch", ["aarch64", "amd64", "ARM64"])
def test_unknown_architecture_is_a_clear_error(arch: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(build.LayerBuildError, match="use one of \\['arm64', 'x86_64'\\]"):
        build.build_layer(arch, out=tmp_path / "x.zip")
    assert build.main(["--arch", arch, "--out", str(tmp_path / "x.zip")]) == 1
    assert f"unknown architecture '{arch}'" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()


def test_bad_python_version_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(build.LayerBuildError, match=r"must look like 3\.12"):
        build.build_layer("arm64", python="python3", out=tmp_path / "x.zip")


def test_pip_failure_says_what_to_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("imgpipe-no-such-package==0.0.1 --hash=sha256:" + "0" * 64 + "\n")
    # An index nobody listens on and an empty cache: what an offline build looks like.
    monkeypatch.setenv("IMGPIPE_WHEEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    with pytest.raises(build.LayerBuildError) as err:
        build.build_layer("arm64", out=tmp_path / "x.zip", requirements=reqs)
    message = str(err.value)
    assert "could not download wheels for arm64" in message
    assert "check network access to PyPI" in message
    assert "imgpipe-no-such-package" in message  # pip's own reason is quoted
    assert not (tmp_path / "x.zip").exists()


def test_architecture_from_env_then_stack_config(tmp_path: Path) -> None:
    assert build.default_architecture({}, root=tmp_path) == "arm64"
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  imgpipe:architecture: x86_64\n")
    assert build.default_architecture({}, root=tmp_path) == "x86_64"
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    assert build.default_architecture({"STACK": "prod"}, root=tmp_path) == "arm64"
    assert build.default_architecture({"ARCH": "arm64"}, root=tmp_path) == "arm64"
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  imgpipe:architecture: i386\n")
    with pytest.raises(build.LayerBuildError, match=r"Pulumi\.bad\.yaml: unknown architecture 'i386'"):
        build.default_architecture({"STACK": "bad"}, root=tmp_path)


def test_host_install_has_the_same_pins_and_is_stamped(tmp_path: Path) -> None:
    target = tmp_path / "layer-host"
    assert build.install_host(target) is True
    assert (target / "PIL" / "__init__.py").is_file()
    assert (target / "pillow-13.0.0.dist-info").is_dir()
    assert (target / "aws_lambda_powertools-3.37.0.dist-info").is_dir()
    assert (target / "pillow_heif-1.8.1.dist-info").is_dir()
    assert not list(target.rglob("*.pyc"))
    assert build.install_host(target) is False  # stamp matches: nothing reinstalled
    assert build.main(["--host", "--target", str(target)]) == 0


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_built_zips_have_the_recorded_digests(layers, arch: str) -> None:
    # the fixture's builds already passed check_digest; this says what is compared with what
    recorded = build.recorded_digests()
    assert set(recorded) == {f"layer-{a}-py3.12.zip" for a in build.ARCHITECTURES}
    if layers[arch].bytecode:
        recorded = build.recorded_bytecode_digests()[layers[arch].bytecode]
    assert layers[arch].sha256 == recorded[f"layer-{arch}-py3.12.zip"]


def test_an_unexpected_zip_fails_and_is_moved_aside(tmp_path: Path) -> None:
    zip_path = tmp_path / "layer-arm64-py3.12.zip"
    zip_path.write_bytes(b"not the reviewed layer")
    (tmp_path / "layer-arm64-py3.12.zip.stamp").write_text("{}")
    digests = tmp_path / "digests.json"
    digests.write_text('{"sha256": {"layer-arm64-py3.12.zip": "' + "1" * 64 + '"}}')
    result = build.BuildResult(zip_path, build._sha256(zip_path), zip_path.stat().st_size, skipped=False)
    with pytest.raises(build.LayerBuildError) as err:
        build.check_digest(result, "layer-arm64-py3.12.zip", digests)
    message = str(err.value)
    assert f"has sha256 {result.sha256} but digests.json records sha256 {'1' * 64}" in message
    assert "make layer-digests" in message and "do not deploy this zip" in message
    assert not zip_path.exists() and not (tmp_path / "layer-arm64-py3.12.zip.stamp").exists()
    assert (tmp_path / "layer-arm64-py3.12.zip.unexpected").read_bytes() == b"not the reviewed layer"
    # and an architecture with nothing recorded fails the same way
    zip_path.write_bytes(b"x")
    with pytest.raises(build.LayerBuildError, match=r"digests\.json records none"):
        build.check_digest(result, "layer-x86_64-py3.12.zip", digests)


def test_a_tampered_cached_wheel_never_reaches_the_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wheel in the cache under a locked name and version whose bytes are not a locked hash:
    # the build stops before pip runs, and says which file and what to do.
    pins = build.read_lock(build.REQUIREMENTS)
    jmespath = pins["jmespath"]
    cache = tmp_path / "cache"
    arm64_cache = cache / "manylinux_2_28_aarch64-cp312"
    arm64_cache.mkdir(parents=True)
    bad = arm64_cache / f"jmespath-{jmespath.version}-py3-none-any.whl"
    bad.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: a valid file, not the release
    monkeypatch.setenv("IMGPIPE_WHEEL_CACHE", str(cache))
    out = tmp_path / "layer-arm64-py3.12.zip"
    with pytest.raises(build.LayerBuildError) as err:
        build.build_layer("arm64", out=out, force=True)
    message = str(err.value)
    assert f"{bad} has sha256 {build._sha256(bad)}" in message
    assert f"not one of the hashes locked for jmespath=={jmespath.version}" in message
    assert f"rm {bad}" in message
    assert not out.exists()
    # another version of the same package is ignored: pip cannot choose it
    bad.rename(arm64_cache / "jmespath-0.0.1-py3-none-any.whl")
    assert build.verify_cache(arm64_cache, pins) == 0


def test_the_lock_must_carry_hashes(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("pillow==13.0.0\n")
    with pytest.raises(build.LayerBuildError, match=r"pillow==13\.0\.0 has no --hash=sha256.*make lock"):
        build.read_lock(reqs)
    reqs.write_text("pillow>=13\n")
    with pytest.raises(build.LayerBuildError, match="not a plain name==version line"):
        build.read_lock(reqs)
    reqs.write_text("# nothing\n")
    with pytest.raises(build.LayerBuildError, match="pins nothing"):
        build.read_lock(reqs)
    pins = build.read_lock(build.REQUIREMENTS)
    assert {"pillow", "aws-lambda-powertools", "jmespath", "typing-extensions"} <= set(pins)
    assert all(pin.hashes for pin in pins.values())


def test_the_installed_tree_must_be_exactly_the_lock(tmp_path: Path) -> None:
    pins = {"pillow": build.LockedPin("pillow", "13.0.0", frozenset({"a" * 64}))}
    (tmp_path / "pillow-13.0.0.dist-info").mkdir()
    build.check_installed(tmp_path, pins)
    (tmp_path / "six-1.17.0.dist-info").mkdir()
    with pytest.raises(build.LayerBuildError, match=r"not locked: \['six==1\.17\.0'\]; missing: none"):
        build.check_installed(tmp_path, pins)


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_no_record_names_a_file_outside_the_layer(layers, arch: str) -> None:
    """Console scripts pip writes to ../../bin carry the venv's interpreter path in their shebang;
    their RECORD lines would make the zip depend on where the checkout lives."""
    with zipfile.ZipFile(layers[arch].path) as zf:
        for name in zf.namelist():
            if name.endswith(".dist-info/RECORD"):
                assert not any(line.startswith("../") for line in zf.read(name).decode().splitlines()), name


def test_unshipped_records_are_dropped(tmp_path: Path) -> None:
    record = tmp_path / "jmespath-1.1.0.dist-info" / "RECORD"
    record.parent.mkdir()
    record.write_text("../../bin/jp.py,sha256=abc,1712\njmespath/__init__.py,sha256=def,10\n")
    assert build.drop_unshipped_records(tmp_path) == 1
    assert record.read_text() == "jmespath/__init__.py,sha256=def,10\n"


# ---------------------------------------------------------------- bytecode for the runtime


def _cpython_312() -> tuple[str, str]:
    found = build.find_python("3.12")
    if found is None:
        pytest.skip(
            "no CPython 3.12 on this machine (PATH, pyenv, IMGPIPE_BYTECODE_PYTHON): the layer is built "
            "without bytecode here, which test_without_a_python_the_layer_has_no_bytecode_and_says_so covers"
        )
    return found


def test_the_layer_ships_bytecode_the_runtime_accepts(layers, tmp_path: Path) -> None:
    """Lambda's /opt is read-only: without __pycache__ every cold start compiles Pillow and
    Powertools. CPython 3.12 itself checks the shipped .pyc against the sources it would load."""
    import subprocess

    python, release = _cpython_312()
    if release not in build.recorded_bytecode_digests():
        pytest.skip(f"Python {release} is not recorded in layer/digests.json, so the layer has no bytecode")
    assert layers["x86_64"].bytecode == release
    with zipfile.ZipFile(layers["x86_64"].path) as zf:
        zf.extractall(tmp_path)
    check = (
        "import importlib.util, pathlib, sys\n"
        "site = pathlib.Path(sys.argv[1])\n"
        "bad = []\n"
        "for src in site.rglob('*.py'):\n"
        "    pyc = pathlib.Path(importlib.util.cache_from_source(str(src)))\n"
        "    data = pyc.read_bytes() if pyc.is_file() else b''\n"
        "    ok = data[:4] == importlib.util.MAGIC_NUMBER and data[4:8] == b'\\x03\\0\\0\\0' and "
        "data[8:16] == importlib.util.source_hash(src.read_bytes())\n"
        "    bad += [] if ok else [str(src.relative_to(site))]\n"
        "print(len(list(site.rglob('*.py'))), bad[:5])\n"
    )
    out = subprocess.run(
        [python, "-c", check, str(tmp_path / "python")], capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    assert int(out[0]) > 300 and out[1].strip() == "[]"  # every module: right magic, hash-checked, matching


def test_without_a_python_the_layer_has_no_bytecode_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "find_python", lambda version, env=None: None)
    result = build.build_layer("arm64", out=tmp_path / "layer-arm64-py3.12.zip", force=True)
    assert result.bytecode is None and result.sha256 == build.recorded_digests()["layer-arm64-py3.12.zip"]
    assert "no CPython 3.12 found" in result.note and "IMGPIPE_BYTECODE_PYTHON" in result.note
    with pytest.raises(build.LayerBuildError, match=r"no CPython 3\.12 found"):
        build.build_layer("arm64", out=tmp_path / "x.zip", force=True, bytecode=True)


def test_a_python_release_nobody_recorded_compiles_nothing(tmp_path: Path) -> None:
    """Bytecode is specific to one CPython release: only a recorded release's goes in."""
    _cpython_312()
    digests = tmp_path / "digests.json"
    digests.write_text(json.dumps({"sha256": build.recorded_digests()}))
    result = build.build_layer("arm64", out=tmp_path / "layer-arm64-py3.12.zip", force=True, digests=digests)
    assert result.bytecode is None and "`make layer-digests` records it" in result.note


def test_bytecode_python_must_be_the_runtime_version(tmp_path: Path) -> None:
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {build.BYTECODE_PYTHON_ENV: sys.executable}
    assert build.find_python(this, env) == (sys.executable, platform.python_version())
    release = re.escape(platform.python_version())
    with pytest.raises(build.LayerBuildError, match=rf"is Python {release}, but .* CPython 3\.99"):
        build.find_python("3.99", env)
    with pytest.raises(build.LayerBuildError, match="not a working CPython"):
        build.find_python(this, {build.BYTECODE_PYTHON_ENV: str(tmp_path / "python-nowhere")})


def test_compiled_bytecode_is_reproducible_hash_checked_and_the_only_pyc_zipped(tmp_path: Path) -> None:
    import importlib.util

    tag = sys.implementation.cache_tag
    zips = []
    for run in ("a", "b"):
        site = tmp_path / run / "python"
        (site / "pkg").mkdir(parents=True)
        (site / "pkg" / "__init__.py").write_text("CONSTANTS = frozenset({'x', 'y', 'z'})\n")
        (site / "pkg" / "__pycache__").mkdir()
        (site / "pkg" / "__pycache__" / "stale.cpython-27.pyc").write_bytes(b"old")
        build.compile_bytecode(site, sys.executable)
        pyc = site / "pkg" / "__pycache__" / f"__init__.{tag}.pyc"
        data = pyc.read_bytes()
        assert data[4:8] == b"\x03\0\0\0"  # flags: hash-based, checked (PEP 552)
        assert data[8:16] == importlib.util.source_hash((site / "pkg" / "__init__.py").read_bytes())
        names = [n for n, _ in build._layer_files(tmp_path / run, tag)]
        assert names == ["python/pkg/__init__.py", f"python/pkg/__pycache__/__init__.{tag}.pyc"]
        assert [n for n, _ in build._layer_files(tmp_path / run)] == ["python/pkg/__init__.py"]
        build.write_reproducible_zip(tmp_path / run, tmp_path / f"{run}.zip", tag)
        zips.append((tmp_path / f"{run}.zip").read_bytes())
    assert zips[0] == zips[1]

"""Stack config: every key declared in Pulumi.yaml, read into StackConfig, bad values refused
with a message naming the key, the value, what is allowed and the command that fixes it."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components import config as cfg
from components.config import ConfigError, StackConfig
from components.inputs import Architecture
from function.variants import DEFAULT_VARIANTS, parse_variants, variants_json
from tests.unit.mocks import config_strings, run_program

ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def load(values: dict[str, Any]) -> StackConfig:
    """components.config.load() through the real pulumi.Config, in an isolated context."""

    def inner() -> StackConfig:
        pulumi.runtime.config.set_all_config(config_strings(values), [])
        return cfg.load()

    return contextvars.Context().run(inner)


def stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


class RecordingConfig:
    """A pulumi.Config stand-in that remembers which keys the loader asks for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def get(self, key: str) -> str | None:
        self.asked.add(key)
        return None


def test_project_declares_exactly_the_keys_the_program_reads() -> None:
    recorder = RecordingConfig()
    cfg.load(recorder)  # type: ignore[arg-type]
    declared = {key.split(":", 1)[1] for key in PROJECT["config"] if key.startswith("imgpipe:")}
    assert declared == recorder.asked
    assert PROJECT["name"] == "imgpipe"
    assert PROJECT["runtime"]["name"] == "python"
    assert PROJECT["runtime"]["options"]["virtualenv"] == ".venv"


def test_declared_defaults_match_the_code_defaults() -> None:
    declared = {key: decl["default"] for key, decl in PROJECT["config"].items()}
    assert load(declared) == StackConfig()  # "" alarmEmail = none, 0 concurrency = unreserved
    assert parse_variants(declared["imgpipe:variants"]) == DEFAULT_VARIANTS


SIMPLE_TYPES = {"string", "integer", "boolean", "array"}
YAML_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def test_config_declarations_follow_pulumis_project_schema() -> None:
    # Pulumi's project.json: a declaration has a simple `type` (no objects), arrays name their
    # `items`, only type/items/description/secret/default, and the default has the type.
    for key, decl in PROJECT["config"].items():
        assert set(decl) <= {"type", "items", "description", "secret", "default"}, key
        assert decl["type"] in SIMPLE_TYPES, key
        if decl["type"] == "array":
            assert decl["items"]["type"] in SIMPLE_TYPES - {"array"}, key
        assert decl.get("description"), key
        assert type(decl["default"]) is YAML_TYPES[decl["type"]], key


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_values_have_the_declared_types(stack: str) -> None:
    # `pulumi config` refuses a stack value whose type differs from the declaration
    declared = PROJECT["config"]
    for key, value in stack_file(stack).items():
        if key in declared:
            assert type(value) is YAML_TYPES[declared[key]["type"]], (key, value)


def test_no_config_gives_the_documented_defaults() -> None:
    got = load({})
    assert got.variants == DEFAULT_VARIANTS
    assert [v.name for v in got.variants] == ["compressed", "low", "webp", "png", "thumbnail"]
    assert (got.architecture, got.api_auth, got.protect, got.force_destroy) == (
        "arm64",
        "api_key",
        False,
        True,
    )
    assert got.alarm_email is None and got.reserved_concurrency is None and got.render_concurrency is None
    assert load({"renderConcurrency": "25"}).render_concurrency == 25
    assert got.cors_origins == ("*",)
    assert got.manage_api_gateway_account is True
    assert load({"manageApiGatewayAccount": "false"}).manage_api_gateway_account is False


def test_dev_and_prod_stack_files_load_and_differ_as_documented() -> None:
    dev, prod = load(stack_file("dev")), load(stack_file("prod"))
    assert dev.protect is False and dev.force_destroy is True
    assert prod.protect is True and prod.force_destroy is False
    assert prod.log_retention_days > dev.log_retention_days
    assert prod.memory_mb > dev.memory_mb
    assert prod.throttle_rate_limit < dev.throttle_rate_limit
    assert prod.throttle_burst_limit < dev.throttle_burst_limit
    assert [v.name for v in prod.variants] == ["compressed", "webp", "large", "thumbnail"]
    assert prod.variants != dev.variants
    assert prod.cors_origins == ("https://images.example.com",)
    assert prod.alarm_email == "ops@example.com"


def test_structured_values_arrive_as_json_text() -> None:
    tiny = {"name": "tiny", "format": "webp", "quality": 50, "max_width": 64}
    got = load(
        {"variants": json.dumps([tiny]), "corsOrigins": ["https://a.example", "http://localhost:3000"]}
    )
    assert [(v.name, v.format, v.quality, v.max_width) for v in got.variants] == [("tiny", "webp", 50, 64)]
    assert json.loads(variants_json(got.variants)) == [{**tiny, "fit": "inside"}]
    assert got.cors_origins == ("https://a.example", "http://localhost:3000")
    assert load({"corsOrigins": "https://one.example"}).cors_origins == ("https://one.example",)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("architecture", "aarch64", "allowed: arm64, x86_64"),
        ("memoryMb", "64", "between 128 and 10240"),
        ("memoryMb", "lots", "whole number"),
        ("timeoutSeconds", "901", "between 1 and 900"),
        ("logRetentionDays", "10", "CloudWatch Logs accepts only 1, 3, 5, 7, 14"),
        ("maxPixels", "0", "between 1 and"),
        ("maxUploadMb", "-5", "between 1 and"),
        ("forceDestroy", "yes", "true or false"),
        ("protect", "1", "true or false"),
        ("apiAuth", "none", "allowed: api_key, iam"),
        ("alarmEmail", "ops-at-example", "email address"),
        ("corsOrigins", '["https://ok.example/path"]', "no path"),
        ("throttleRateLimit", "fast", "a number between"),
        ("throttleBurstLimit", "0", "between 1 and 5000"),
        ("quotaPerDay", "0", "between 1 and"),
        ("reservedConcurrency", "-1", "between 0 and"),
        ("renderConcurrency", "²", "between 0 and"),
        ("renderConcurrency", "-3", "between 0 and"),
        ("stageName", "my stage", "letters, digits"),
        ("manageApiGatewayAccount", "no", "true or false"),
    ],
)
def test_bad_values_say_key_value_range_and_fix(key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load({f"imgpipe:{key}": value})
    message = str(err.value)
    assert f"imgpipe:{key} is " in message
    assert expected in message
    assert f"pulumi config set imgpipe:{key} " in message
    # the value that was refused is quoted back
    assert value.strip('[]"').split("/")[0] in message or value in message


def test_bad_variants_name_the_variant_and_how_to_set_it() -> None:
    with pytest.raises(ConfigError) as err:
        load({"variants": '[{"name": "thumb", "format": "tiff"}]'})
    assert "imgpipe:variants is invalid" in str(err.value)
    assert "variant 'thumb'" in str(err.value) and "'format' must be one of" in str(err.value)
    assert "fix: pulumi config set imgpipe:variants '[{" in str(err.value)


def test_missing_layer_zip_says_run_make_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cfg.LAYER_ZIP_ENV, str(tmp_path / "nope.zip"))
    with pytest.raises(ConfigError, match=r"run `make layer`"):
        StackConfig().require_layer_zip()
    monkeypatch.delenv(cfg.LAYER_ZIP_ENV)
    monkeypatch.chdir(ROOT)
    x86 = StackConfig(architecture=Architecture.X86_64)
    assert x86.layer_zip == Path("layer/build/layer-x86_64-py3.12.zip")
    monkeypatch.chdir(tmp_path)
    assert x86.layer_zip == ROOT / "layer/build/layer-x86_64-py3.12.zip"


def test_invalid_config_fails_the_program_run_before_any_resource() -> None:
    # what `pulumi preview` shows: the ConfigError, raised by the real __main__.py
    with pytest.raises(ConfigError, match=r"imgpipe:memoryMb is 99999"):
        run_program({"imgpipe:memoryMb": 99999})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_use_only_declared_keys(stack: str) -> None:
    # a typo (imgpipe:memoryMB) would otherwise be silently ignored
    declared = set(PROJECT["config"])
    used = {key for key in stack_file(stack) if key.startswith("imgpipe:")}
    assert used <= declared, used - declared

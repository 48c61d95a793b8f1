"""Configuration: every problem at once, env overrides, *_file secrets, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from napops.core import config
from napops.core.errors import ConfigError

SECTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "token": {"type": "string", "secret": True, "minLength": 8},
        "retries": {"type": "integer", "minimum": 0, "default": 3},
        "hosts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "password": {"type": "string", "secret": True},
                },
            },
        },
    },
}
SCHEMA = config.common_schema("demo", SECTION)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "napops.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.load(SCHEMA, write(tmp_path, text), environ or {})
    return info.value.problems


def test_defaults_fill_what_is_not_written(tmp_path: Path) -> None:
    cfg = config.load(SCHEMA, write(tmp_path, "demo: {url: http://x}\n"), {})
    assert cfg["listen"] == {"host": "127.0.0.1", "port": 8000}
    assert cfg["demo"]["retries"] == 3
    assert cfg["log_level"] == "INFO"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        "listen: {port: 70000, colour: blue}\nlog_level: LOUD\ndemo: {retries: -1, extra: 1}\n",
    )
    assert problems == [
        "At 'listen.port': 70000 is more than 65535",
        "At 'listen.colour': unknown key (known keys: host, port)",
        "At 'log_level': 'LOUD' is not one of 'DEBUG', 'INFO', 'WARNING', 'ERROR'",
        "At 'demo.url': required but missing",
        "At 'demo.retries': -1 is less than 0",
        "At 'demo.extra': unknown key (known keys: hosts, retries, token, url)",
    ]


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "demo: {url: http://x}\nlisten_port: 1\n") == [
        "At 'listen_port': unknown key (known keys: api, audit, demo, docker, listen, log_level, "
        "max_body_bytes, shutdown_grace_seconds, state_dir, timezone)"
    ]


def test_environment_overrides_the_file_with_typed_values(tmp_path: Path) -> None:
    env = {
        "NAPOPS__LISTEN__PORT": "9123",
        "NAPOPS__DEMO__URL": "https://override",
        "NAPOPS__LOG_LEVEL": "DEBUG",
        "OTHER": "ignored",
    }
    cfg = config.load(SCHEMA, write(tmp_path, "demo: {url: http://file}\n"), env)
    assert cfg["listen"]["port"] == 9123
    assert cfg["demo"]["url"] == "https://override"
    assert cfg["log_level"] == "DEBUG"


def test_bad_environment_value_is_reported_with_its_path(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "demo: {url: http://x}\n", {"NAPOPS__LISTEN__PORT": "eighty"})
    assert problems == ["At 'listen.port': expected integer, got str"]


def test_secret_read_from_file_and_redacted(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value-123\n", encoding="utf-8")
    cfg = config.load(
        SCHEMA, write(tmp_path, f"demo: {{url: http://x, token_file: {secret}}}\n"), {}
    )
    assert cfg["demo"]["token"] == "s3cr3t-value-123"
    assert "token_file" not in cfg["demo"]
    assert config.redacted(cfg, SCHEMA)["demo"]["token"] == "***"
    assert config.secrets_of(cfg, SCHEMA) == ["s3cr3t-value-123"]


def test_secret_file_from_environment_and_in_lists(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("token-from-env", encoding="utf-8")
    (tmp_path / "p").write_text("db-password", encoding="utf-8")
    text = f"demo: {{url: http://x, hosts: [{{name: a, password_file: {tmp_path / 'p'}}}]}}\n"
    cfg = config.load(
        SCHEMA, write(tmp_path, text), {"NAPOPS__DEMO__TOKEN_FILE": str(tmp_path / "t")}
    )
    assert cfg["demo"]["token"] == "token-from-env"
    assert cfg["demo"]["hosts"][0]["password"] == "db-password"
    assert sorted(config.secrets_of(cfg, SCHEMA)) == ["db-password", "token-from-env"]
    assert config.redacted(cfg, SCHEMA)["demo"]["hosts"][0]["password"] == "***"


def test_missing_secret_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "demo: {url: http://x, token_file: /nonexistent/t}\n")
    assert problems == [
        "At 'demo.token_file': cannot read secret file '/nonexistent/t': No such file or directory"
    ]


def test_secret_given_twice_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("abcdefghij", encoding="utf-8")
    problems = problems_of(
        tmp_path, f"demo: {{url: http://x, token: abcdefghij, token_file: {tmp_path / 't'}}}\n"
    )
    assert problems == ["At 'demo.token_file': give either token or token_file, not both"]


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "demo:\n  url: [unclosed\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"At '{tmp_path / 'napops.yml'}': invalid YAML (line ")


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(SCHEMA, tmp_path / "absent.yml", {})
    assert "cannot read" in info.value.problems[0]
    assert problems_of(tmp_path, "- a\n- b\n") == [
        f"At '{tmp_path / 'napops.yml'}': expected a mapping at the top level"
    ]


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "demo: {url: http://x, retries: true}\n") == [
        "At 'demo.retries': expected integer, got bool"
    ]

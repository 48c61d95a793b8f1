"""``napops relay test --channel ...`` against the real SMTP server and Rocket.Chat receiver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.relay import base_config

pytestmark = pytest.mark.integration

NAPOPS = str(Path(sys.executable).parent / "napops")


def write_config(tmp_path: Path, smtp, chat) -> Path:
    cfg = base_config(tmp_path / "state", smtp, chat)
    path = tmp_path / "relay.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NAPOPS, "relay", "test", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_email_and_rocketchat_test_messages(tmp_path, smtp, chat):
    config = write_config(tmp_path, smtp, chat)
    email = run("--channel", "email", "--config", str(config))
    assert email.returncode == 0, email.stderr
    assert smtp.subjects() == ["napops relay test message (email)"]
    assert "ทดสอบภาษาไทย" in smtp.bodies()[0]
    import os

    chat_run = run("--channel", "rocketchat", env={**os.environ, "NAPOPS_CONFIG": str(config)})
    assert chat_run.returncode == 0, chat_run.stderr
    assert chat.texts() == ["*napops relay test message (rocketchat)*"]


def test_failure_exits_1_with_reason_and_bad_config_exits_2(tmp_path, smtp, chat):
    config = write_config(tmp_path, smtp, chat)
    smtp.stop()
    failed = run("--channel", "email", "--config", str(config))
    assert failed.returncode == 1 and failed.stdout.startswith("FAILED: email:")
    bad = tmp_path / "bad.yml"
    bad.write_text("relay: {token: short, channels: {email: {port: 0}}}\n")
    invalid = run("--channel", "email", "--config", str(bad))
    assert invalid.returncode == 2
    assert (
        "At 'relay.token'" in invalid.stderr and "At 'relay.channels.email.port'" in invalid.stderr
    )
    assert "Traceback" not in invalid.stderr

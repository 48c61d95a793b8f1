"""The dev sinks as the local stack uses them: the relay's own channels, configured from the
shipped relay.yml with the dev overlay's overrides, deliver to a real aiosmtpd sink and a
Rocket.Chat-format webhook sink; `napops dev inbox` shows what arrived."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from helpers import ROOT, free_port
from napops import cli
from napops.core import config as configmod
from napops.devsink.inbox import Inbox
from napops.devsink.server import serve_in_thread
from napops.relay import reachability
from napops.relay.schema import SECTION

pytestmark = pytest.mark.integration

RELAY_YML = ROOT / "compose" / "config" / "napops" / "relay.yml"


@pytest.fixture()
def sink(tmp_path: Path) -> Iterator[dict[str, int]]:
    ports = {"smtp": free_port(), "http": free_port()}
    stop = serve_in_thread(Inbox(tmp_path / "sink"), "127.0.0.1", ports["smtp"], ports["http"])
    yield ports
    stop()


@pytest.fixture()
def dev_relay_env(
    tmp_path: Path, sink: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    """The environment the dev overlay gives the relay, with the secrets in temp files."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("relay_token", "smtp_password", "audit_key"):
        (secrets / name).write_text(f"{name}-dev-value-0123456789\n")
    (secrets / "webhook").write_text(
        f"http://127.0.0.1:{sink['http']}/hooks/dev-integration/dev-token\n"
    )
    env = {
        "NAPOPS__RELAY__TOKEN_FILE": secrets / "relay_token",
        "NAPOPS__RELAY__STATE_DIR": tmp_path / "state",
        "NAPOPS__AUDIT__KEY_FILE": secrets / "audit_key",
        "NAPOPS__AUDIT__PATH": tmp_path / "audit.jsonl",
        "NAPOPS__RELAY__CHANNELS__EMAIL__HOST": "127.0.0.1",
        "NAPOPS__RELAY__CHANNELS__EMAIL__PORT": sink["smtp"],
        "NAPOPS__RELAY__CHANNELS__EMAIL__SECURITY": "none",
        "NAPOPS__RELAY__CHANNELS__EMAIL__PASSWORD_FILE": secrets / "smtp_password",
        "NAPOPS__RELAY__CHANNELS__ROCKETCHAT__WEBHOOK_URL_FILE": secrets / "webhook",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return sink


def inbox(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["dev", "inbox", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_relays_test_messages_arrive_in_the_dev_inbox(
    dev_relay_env: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{dev_relay_env['http']}"
    for channel in ("email", "rocketchat"):
        status = cli.main(["relay", "test", "--channel", channel, "--config", str(RELAY_YML)])
        out = capsys.readouterr().out
        assert status == 0, out
    status, out, _ = inbox(capsys, "--url", url, "--json")
    records = json.loads(out)
    assert status == 0 and [r["kind"] for r in records] == ["email", "rocketchat"]
    mail, chat = records
    assert mail["to"] == ["ops@np-dms.work"] and "alerts@np-dms.work" in mail["from"]
    assert "napops relay test message (email)" in mail["subject"]
    assert "ทดสอบภาษาไทย" in mail["text"]
    assert chat["integration"] == "dev-integration" and "ทดสอบภาษาไทย" in json.dumps(
        chat["payload"], ensure_ascii=False
    )
    status, out, _ = inbox(capsys, "--url", url, "--kind", "email")
    assert status == 0 and out.startswith("#1 email ") and "rocketchat" not in out
    assert "  Subject: " in out and "napops relay test message (email)" in out


def test_the_webhook_sink_answers_like_rocket_chat(sink: dict[str, int]) -> None:
    base = f"http://127.0.0.1:{sink['http']}"
    ok = requests.post(f"{base}/hooks/a/b", json={"text": "hi"}, timeout=5)
    assert (ok.status_code, ok.json()) == (200, {"success": True})
    assert requests.post(f"{base}/hooks/a", json={"text": "x"}, timeout=5).status_code == 404
    form = requests.post(f"{base}/hooks/a/b", data={"text": "x"}, timeout=5)
    assert form.status_code == 415 and form.json()["success"] is False
    empty = requests.post(f"{base}/hooks/a/b", json={}, timeout=5)
    assert empty.status_code == 400 and "neither" in empty.json()["error"]
    bad = requests.post(
        f"{base}/hooks/a/b",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.status_code == 400
    assert len(requests.get(f"{base}/inbox", timeout=5).json()) == 1
    assert requests.get(f"{base}/inbox?kind=fax", timeout=5).status_code == 400


def test_inbox_wait_runs_out_with_1_and_an_unreachable_sink_is_2(
    sink: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{sink['http']}"
    status, _, err = inbox(capsys, "--url", url, "--wait", "1", "--count", "1")
    assert status == 1 and "0 of 1 message(s)" in err
    status, _, err = inbox(capsys, "--url", f"http://127.0.0.1:{free_port()}")
    assert status == 2 and "cannot read the dev inbox" in err


def test_relay_test_tells_configured_from_reachable(
    dev_relay_env: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["relay", "test", "--config", str(RELAY_YML)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"email       configured (127.0.0.1:{dev_relay_env['smtp']}), reachable" in out
    assert f"rocketchat  configured (127.0.0.1:{dev_relay_env['http']}), reachable" in out
    assert "dev-token" not in out  # the webhook's path holds its token
    # what `make secrets` writes for a webhook nobody has set up: configured, never reachable
    placeholder = tmp_path / "placeholder"
    placeholder.write_text("http://127.0.0.1:9/replace-me/rocketchat_webhook_url/x\n")
    env = {"NAPOPS__RELAY__CHANNELS__ROCKETCHAT__WEBHOOK_URL_FILE": str(placeholder)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        status = cli.main(["relay", "test", "--config", str(RELAY_YML)])
        out = capsys.readouterr().out
        assert status == 1
        assert "rocketchat  configured (127.0.0.1:9), UNREACHABLE (Connection refused)" in out
        section = configmod.load(configmod.common_schema("relay", SECTION), RELAY_YML)["relay"]
        with pytest.raises(RuntimeError, match="rocketchat configured but unreachable"):
            reachability.ready_check(section)()

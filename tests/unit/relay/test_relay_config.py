"""The relay's configuration: the Compose file is valid, and mistakes are all reported."""

from __future__ import annotations

import pytest
import yaml

from helpers import ROOT
from napops.core import config as configmod
from napops.core.errors import ConfigError
from napops.relay.channels import configured
from napops.relay.schema import SECTION

SCHEMA = configmod.common_schema("relay", SECTION)
COMPOSE = ROOT / "compose" / "config" / "napops" / "relay.yml"
SECRETS = ("relay_token", "smtp_password", "rocketchat_webhook_url", "audit_key")


def test_compose_config_is_valid_with_its_secrets(tmp_path):
    values = {
        "relay_token": "t" * 32,
        "smtp_password": "pw",
        "rocketchat_webhook_url": "https://chat.np-dms.work/hooks/a/b",
        "audit_key": "k" * 32,
    }
    for name, value in values.items():
        (tmp_path / name).write_text(value + "\n")
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert f"/run/secrets/{name}" in text
        text = text.replace(f"/run/secrets/{name}", str(tmp_path / name))
    path = tmp_path / "relay.yml"
    path.write_text(text)
    cfg = configmod.load(SCHEMA, path, environ={})
    section = cfg["relay"]
    assert section["token"] == "t" * 32
    assert section["state_dir"] == "/var/lib/napops/relay"
    assert set(configured(section)) == {"email", "rocketchat"}


def test_the_watchers_compose_config_is_valid_and_watches(tmp_path):
    """The heartbeat watcher on the QNAP (compose/stacks/watch.yml): a valid relay
    configuration with the watchdog on, both channels, and the ASUSTOR relay's window."""
    for name in SECRETS:
        value = "https://chat.np-dms.work/hooks/a/b" if name.endswith("_url") else "x" * 32
        (tmp_path / name).write_text(value + "\n")
    text = (COMPOSE.parent / "relay-watch.yml").read_text()
    for name in SECRETS:
        text = text.replace(f"/run/secrets/{name}", str(tmp_path / name))
    path = tmp_path / "relay-watch.yml"
    path.write_text(text)
    watch = configmod.load(SCHEMA, path, environ={})["relay"]
    relay = yaml.safe_load(COMPOSE.read_text())["relay"]
    assert watch["watchdog"]["enabled"] is True
    assert watch["watchdog"] == relay["watchdog"]
    assert set(configured(watch)) == {"email", "rocketchat"}
    assert watch["channels"]["email"]["host"] == relay["channels"]["email"]["host"]
    # the path the image prepares for a relay (services/Dockerfile); its own volume there
    assert watch["state_dir"] == "/var/lib/napops/relay"


def test_every_problem_at_once(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "relay": {
                    "token": "short",
                    "colour": "red",
                    "grafana_url": "https://grafana/d/x?var-instance={0}&q={instance!r}",
                    "channels": {
                        "email": {"host": "smtp", "security": "ssl", "to": []},
                        "rocketchat": {"webhook_url": "ftp://x"},
                    },
                    "routes": [{"match": {"severity": "critical"}, "channels": ["pager"]}],
                }
            }
        )
    )
    with pytest.raises(ConfigError) as exc:
        configmod.load(SCHEMA, path, environ={})
    text = "\n".join(exc.value.problems)
    for where in (
        "relay.token",
        "relay.colour",
        "relay.channels.email.security",
        "relay.channels.email.to",
        "relay.channels.email.from",
        "relay.channels.rocketchat.webhook_url",
        "relay.routes[0].channels[0]",
        "relay.grafana_url",
    ):
        assert f"At '{where}'" in text, where


def test_environment_overrides(tmp_path):
    env = {"NAPOPS__RELAY__TOKEN": "x" * 20, "NAPOPS__RELAY__WATCHDOG__WINDOW_SECONDS": "90"}
    cfg = configmod.load(SCHEMA, None, environ=env)
    assert cfg["relay"]["watchdog"]["window_seconds"] == 90
    assert configured(cfg["relay"]) == {}


@pytest.mark.parametrize("url", ["https://g/d/x?var-instance={instance}&h={host}", "https://g/"])
def test_grafana_url_with_label_placeholders_is_accepted(url):
    cfg = configmod.load(
        SCHEMA, None, environ={"NAPOPS__RELAY__TOKEN": "x" * 20, "NAPOPS__RELAY__GRAFANA_URL": url}
    )
    assert cfg["relay"]["grafana_url"] == url

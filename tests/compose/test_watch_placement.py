"""The heartbeat watcher (compose/stacks/watch.yml) runs on the other box and Alertmanager's
heartbeats reach it; the QNAP's containers are read by a compliance sidecar on the QNAP.

Checked on the estate as compose/hosts.yml places it (estate_model, the stacks rendered per
host): every webhook of alertmanager/alertmanager.yml answers from the Alertmanager container,
and the Watchdog's second webhook is answered by `relay-watch`, which in prod runs on the QNAP,
not beside Alertmanager on the ASUSTOR.
"""

from __future__ import annotations

import pytest
import yaml
from compose_render import ENVS
from estate_model import Estate, Unreachable, build, url_address

from helpers import ROOT, require_docker

AM_CONFIG = ROOT / "alertmanager" / "alertmanager.yml"


def watchdog_hooks() -> list[str]:
    config = yaml.safe_load(AM_CONFIG.read_text("utf-8"))
    [receiver] = [r for r in config["receivers"] if r["name"] == "watchdog"]
    return [hook["url"] for hook in receiver["webhook_configs"]]


def every_hook() -> set[str]:
    config = yaml.safe_load(AM_CONFIG.read_text("utf-8"))
    return {h["url"] for r in config["receivers"] for h in r.get("webhook_configs", [])}


def answering(estate: Estate, url: str) -> str:
    alertmanager = estate.find("alertmanager")
    try:
        found = estate.reach(alertmanager, url_address(url))
    except Unreachable as exc:
        raise AssertionError(f"{estate.env}: {url}: {exc}") from None
    assert found is not None, f"{estate.env}: {url} is answered by a host daemon"
    return f"{found.name}@{found.host}"


@pytest.fixture(scope="module", autouse=True)
def _docker() -> None:
    require_docker()


@pytest.mark.parametrize("env", ENVS)
def test_every_alertmanager_webhook_answers_from_alertmanager(env: str) -> None:
    estate = build(env)
    for url in sorted(every_hook()):
        answering(estate, url)


@pytest.mark.parametrize("env", ENVS)
def test_the_watchdog_goes_to_the_relay_and_to_the_watcher(env: str) -> None:
    estate = build(env)
    relay_hook, watcher_hook = watchdog_hooks()
    relay, watcher = answering(estate, relay_hook), answering(estate, watcher_hook)
    assert relay.startswith("relay@") and watcher.startswith("relay-watch@"), (relay, watcher)
    watch = estate.find("relay-watch")
    assert watch.environment["NAPOPS_CONFIG"] == "/etc/napops/relay-watch.yml"
    assert watch.environment["NAPOPS__LISTEN__PORT"] == url_address(watcher_hook).split(":")[1]


def test_in_prod_the_watcher_runs_on_the_other_box() -> None:
    estate = build("prod")
    alertmanager = estate.find("alertmanager")
    watcher = estate.find("relay-watch")
    assert (alertmanager.host, watcher.host) == ("asustor", "qnap")
    # its port answers the ASUSTOR on the QNAP's LAN address, not on loopback
    [published] = watcher.published
    assert published.port == 9188 and not published.loopback


def test_in_prod_each_host_has_its_own_compliance_sidecar_on_its_own_engine() -> None:
    estate = build("prod")
    for host in ("asustor", "qnap"):
        compliance = estate.find("compliance", host)
        proxy = next(net for net, names in compliance.networks.items() if "docker-ro" in net)
        # the read-only socket proxy of the same host answers as socket-proxy on that network
        agents_proxy = estate.find("socket-proxy", host)
        assert "socket-proxy" in agents_proxy.networks.get(proxy, set()), (host, proxy)


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_one_box_environments_run_one_compliance_sidecar(env: str) -> None:
    estate = build(env)
    estate.find("compliance")  # exactly one: the napops stack's reads the one engine

"""Every address a container is configured to open answers from where that container runs.

The estate is checked as compose/hosts.yml places it (estate_model: one model per environment,
two hosts in prod, the stacks rendered per host):

- every Prometheus target of prometheus/targets/<env>/ (and the Alertmanager it alerts),
  after the job's relabelling as prometheus/prometheus.yml writes it: the scrape address from
  the Prometheus container; for probe jobs, the probed target from the blackbox exporter that
  scrape reaches (`__prober` or the default one);
- Alloy's Loki URL, on every host;
- the edge's upstreams on OPS_HOST (grafana., registry.), where the site is enabled.

The last tests change a correct model in the ways the estate was once broken, and expect the
checks to say so.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_render import ENVS
from estate_model import Estate, Service, Unreachable, build, edge_upstreams, url_address

from helpers import ALLOY, ROOT, require_docker

PROMETHEUS = ROOT / "prometheus"
# loki.write's endpoint: `url = sys.env("VAR")` or `url = "http://..."`
ALLOY_URL = re.compile(r'^\s*url\s*=\s*(?:sys\.env\("(\w+)"\)|"([^"]*)")', re.M)
PROM_GROUP = re.compile(r"\$\{?(\w+)\}?")

Targets = dict[str, list[dict[str, Any]]]  # file (as prometheus.yml names it) -> its groups


def prometheus_config() -> dict[str, Any]:
    return yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text("utf-8"))


def target_files(env: str) -> Targets:
    """Every file_sd file of prometheus.yml, read from the environment's folder."""
    found: Targets = {}
    for job in prometheus_config()["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            for name in sd["files"]:
                path = PROMETHEUS / "targets" / env / Path(name).relative_to("targets")
                found[name] = yaml.safe_load(path.read_text("utf-8")) or []
    return found


def relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str]:
    """Prometheus relabelling, `replace` action only (the one prometheus.yml uses)."""
    out = dict(labels)
    for rule in rules:
        assert rule.get("action", "replace") == "replace", f"not modelled: {rule}"
        sources = [out.get(name, "") for name in rule.get("source_labels", [])]
        value = rule.get("separator", ";").join(sources)
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if match:
            replacement = PROM_GROUP.sub(r"\\g<\1>", rule.get("replacement", "$1"))
            out[rule["target_label"]] = match.expand(replacement)
    return out


def probe_address(target: str) -> str:
    return url_address(target) if "://" in target else target


def reach(estate: Estate, origin: Service, address: str, what: str) -> Service | None | str:
    """The answering service (None: a host daemon), or a problem line."""
    try:
        return estate.reach(origin, address)
    except Unreachable as exc:
        return f"{estate.env}: {what}: {exc}"


def prometheus_problems(estate: Estate, targets: Targets) -> list[str]:
    """Targets, probers and probes that do not answer from where they are opened."""
    config = prometheus_config()
    prometheus = estate.find("prometheus")
    problems: list[str] = []
    for am in config["alerting"]["alertmanagers"]:
        for static in am.get("static_configs", []):
            for address in static["targets"]:
                found = reach(estate, prometheus, address, "alertmanager")
                problems += [found] if isinstance(found, str) else []
    for job in config["scrape_configs"]:
        params = {f"__param_{k}": v[0] for k, v in job.get("params", {}).items()}
        for sd in job.get("file_sd_configs", []):
            for name in sd["files"]:
                for group in targets[name]:
                    for target in group["targets"]:
                        labels = {**params, "job": job["job_name"], **group.get("labels", {})}
                        labels["__address__"] = target
                        final = relabel(job.get("relabel_configs", []), labels)
                        what = f"job {job['job_name']} target {target}"
                        problems += scrape_problems(estate, prometheus, final, what)
    return problems


def scrape_problems(
    estate: Estate, prometheus: Service, labels: dict[str, str], what: str
) -> list[str]:
    scraped = reach(estate, prometheus, labels["__address__"], f"{what}, scrape")
    if isinstance(scraped, str):
        return [scraped]
    probe = labels.get("__param_target")
    if probe is None:
        return []
    if scraped is None or "blackbox" not in scraped.image:
        return [f"{estate.env}: {what}: {labels['__address__']} is no blackbox exporter"]
    probed = reach(estate, scraped, probe_address(probe), f"{what}, probed from {scraped}")
    return [probed] if isinstance(probed, str) else []


def alloy_push_url(alloy: Service) -> str:
    """The Loki URL Alloy pushes to: config.alloy's literal, or the variable it reads."""
    [(variable, literal)] = ALLOY_URL.findall(ALLOY.read_text("utf-8"))
    return alloy.environment.get(variable, "") if variable else literal


def alloy_problems(estate: Estate) -> list[str]:
    problems = []
    for host in sorted(estate.hosts):
        alloy = estate.find("alloy", host)
        url = alloy_push_url(alloy)
        if not url:
            problems.append(f"{estate.env}: Alloy on {host} gets no Loki URL")
            continue
        found = reach(estate, alloy, url_address(url), f"Alloy on {host} pushing to {url}")
        if isinstance(found, str):
            problems.append(found)
        elif found is None or found.name != "loki":
            problems.append(f"{estate.env}: Alloy on {host}: {url} is answered by {found}")
    return problems


def edge_problems(estate: Estate) -> list[str]:
    nginx = estate.find("nginx")
    problems = []
    for site, address in edge_upstreams(estate).items():
        found = reach(estate, nginx, address, f"edge site {site} -> {address}")
        problems += [found] if isinstance(found, str) else []
    return problems


@pytest.fixture(scope="module", autouse=True)
def _docker() -> None:
    require_docker()


@pytest.mark.parametrize("env", ENVS)
def test_prometheus_reaches_every_target_and_every_prober_its_probes(env: str) -> None:
    problems = prometheus_problems(build(env), target_files(env))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_alloy_reaches_loki_on_every_host(env: str) -> None:
    problems = alloy_problems(build(env))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVS)
def test_the_edge_reaches_grafana_and_the_registry_on_the_ops_host(env: str) -> None:
    estate = build(env)
    upstreams = edge_upstreams(estate)
    # dev certifies no site, so nothing proxies there; elsewhere both sites must be checked
    assert env == "dev" or len(upstreams) == 2, upstreams
    problems = edge_problems(estate)
    assert not problems, "\n".join(problems)


def test_the_probe_networks_are_internal_and_hold_the_prober_and_the_stores() -> None:
    estate = build("prod")
    qnap = estate.hosts["qnap"]
    prober = estate.find("prober")
    [probe_net] = [net for net in prober.networks if net.endswith("-probe")]
    assert probe_net in qnap.internal
    members = {s.name for s in qnap.services if probe_net in s.networks}
    stores = {"mariadb", "cache", "search", "n8n-db", "tika", "clamav"}
    assert members == stores | {"backend", "prober"}
    # MongoDB has no authentication: it shares its own probe network with the prober alone
    [mongo_net] = [net for net in prober.networks if net.endswith("-probe-mongo")]
    assert mongo_net in qnap.internal
    assert {s.name for s in qnap.services if mongo_net in s.networks} == {"mongodb", "prober"}


# --- the checks reject an estate broken the way it was --------------------------------------


def all_problems(estate: Estate, targets: Targets) -> list[str]:
    return prometheus_problems(estate, targets) + alloy_problems(estate) + edge_problems(estate)


def unpublished_node_exporter(estate: Estate, targets: Targets) -> None:
    estate.find("node-exporter", "qnap").published.clear()


def stores_on_the_qnaps_ports(estate: Estate, targets: Targets) -> None:
    targets["targets/blackbox-tcp.yml"] = [
        {"targets": ["qnap:3306"], "labels": {"host": "qnap", "service": "mariadb"}}
    ]


def stores_from_the_asustor(estate: Estate, targets: Targets) -> None:
    for group in targets["targets/blackbox-tcp.yml"]:
        group["labels"].pop("__prober", None)


def prober_on_the_internal_network_only(estate: Estate, targets: Targets) -> None:
    prober = estate.find("prober")
    prober.networks = {n: names for n, names in prober.networks.items() if n.endswith("-probe")}


def loki_by_name_on_the_qnap(estate: Estate, targets: Targets) -> None:
    estate.find("alloy", "qnap").environment["LOKI_PUSH_URL"] = "http://loki:3100/loki/api/v1/push"


def grafana_on_loopback(estate: Estate, targets: Targets) -> None:
    for pub in estate.find("grafana").published:
        pub.address = "127.0.0.1"


BROKEN: list[tuple[Callable[[Estate, Targets], None], str]] = [
    (unpublished_node_exporter, "qnap:9100: nothing on qnap publishes port 9100"),
    (stores_on_the_qnaps_ports, "qnap:3306: nothing on qnap publishes port 3306"),
    (stores_from_the_asustor, "mariadb:3306: 'mariadb' is no service on a network"),
    (prober_on_the_internal_network_only, "qnap:9116: prober (data on qnap) is on internal"),
    (loki_by_name_on_the_qnap, "Alloy on qnap pushing to http://loki:3100"),
    (grafana_on_loopback, "asustor:3000: port 3000 is published on loopback only"),
]


@pytest.mark.parametrize(("breakage", "expected"), BROKEN, ids=[b.__name__ for b, _ in BROKEN])
def test_the_checks_reject_prod_broken_as_it_was(
    breakage: Callable[[Estate, Targets], None], expected: str
) -> None:
    estate, targets = copy.deepcopy(build("prod")), target_files("prod")
    assert not all_problems(estate, targets), "the unchanged model must pass"
    breakage(estate, targets)
    problems = all_problems(estate, targets)
    assert any(expected in p for p in problems), "\n".join(problems)

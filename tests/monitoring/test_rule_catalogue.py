"""Static checks of the alert rules: annotations, runbooks, promtool coverage, dev targets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from monitoring_files import (
    ENVIRONMENTS,
    RULE_TESTS,
    RUNBOOK_BASE,
    TARGETS,
    alert_rules,
    load_yaml,
    scrape_jobs,
    target_file,
)

from helpers import ROOT, SIDECARS

REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
ALWAYS_FIRING = {"Watchdog"}  # by design never "not firing"
DEV_TARGETS = {
    "prometheus": {"prometheus:9090"},
    "alertmanager": {"alertmanager:9093"},
    "node": {"node-exporter:9100"},
    "blackbox-exporter": {"blackbox-exporter:9115"},
    "napops": {"relay:8000", "certs:8000", "deploy:8000", "backup:8000", "compliance:8000"},
}
RULE_IDS = [
    f"{path.name}:{rule['alert']}:{rule['labels'].get('severity')}" for path, rule in alert_rules()
]


def slug(heading: str) -> str:
    """Anchor of a Markdown heading as Gitea and GitHub make it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    lines = markdown.read_text(encoding="utf-8").splitlines()
    return {slug(line.lstrip("#")) for line in lines if line.startswith("#")}


@pytest.mark.parametrize(("path", "rule"), list(alert_rules()), ids=RULE_IDS)
def test_rule_has_severity_summary_description_runbook(path: Path, rule: dict) -> None:
    assert rule.get("labels", {}).get("severity") in {"critical", "warning", "none", "info"}
    for name in REQUIRED_ANNOTATIONS:
        assert rule.get("annotations", {}).get(name, "").strip(), f"{rule['alert']}: no {name}"
    if rule["alert"] not in ALWAYS_FIRING:
        assert "$value" in rule["annotations"]["description"], "description lacks the value"


@pytest.mark.parametrize(("path", "rule"), list(alert_rules()), ids=RULE_IDS)
def test_runbook_link_resolves(path: Path, rule: dict) -> None:
    url = rule["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_BASE), url
    file_part, _, anchor = url[len(RUNBOOK_BASE) :].partition("#")
    target = ROOT / file_part
    assert target.is_file(), f"{rule['alert']}: {file_part} does not exist"
    if anchor:
        assert anchor in anchors(target), (
            f"{rule['alert']}: no heading for #{anchor} in {file_part}"
        )


def promtool_cases() -> tuple[set[str], set[str]]:
    """Alert names tested as firing and as not firing, over every promtool test file."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS.glob("*.test.yml"):
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    return firing, quiet


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing, quiet = promtool_cases()
    names = {rule["alert"] for _, rule in alert_rules()}
    assert sorted(names - firing) == [], "alerts never tested as firing"
    assert sorted(names - quiet - ALWAYS_FIRING) == [], "alerts never tested as not firing"


def targets_of(env: str, job: dict) -> list[dict]:
    relative = Path(target_file(job)).relative_to("targets")
    return load_yaml(TARGETS / env / relative) or []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_job_has_a_target_file_and_every_target_a_host(env: str) -> None:
    hosts = {"local"} if env == "dev" else {"qnap", "asustor"}
    for job in scrape_jobs():
        assert target_file(job).startswith("targets/"), job["job_name"]
        for group in targets_of(env, job):
            assert group["labels"]["host"] in hosts, (job["job_name"], group)


def test_dev_targets_are_exactly_the_local_stack() -> None:
    listed = {}
    for job in scrape_jobs():
        addresses = {t for group in targets_of("dev", job) for t in group["targets"]}
        if addresses:
            listed[job["job_name"]] = addresses
    assert listed == DEV_TARGETS


# the heartbeat watcher of the watch stack: a relay in a role of its own (its TargetDown is a
# warning, not the alert path's relay)
EXTRA_ROLES = {"relay-watch"}


def test_sidecar_targets_name_their_role() -> None:
    [job] = [j for j in scrape_jobs() if j["job_name"] == "napops"]
    for env in ENVIRONMENTS:
        roles = {group["labels"]["sidecar"] for group in targets_of(env, job)}
        assert roles - EXTRA_ROLES == set(SIDECARS), env


def agent_jobs() -> re.Pattern[str]:
    """The jobs HostDown counts as a host's agents (from the host:agents:count rule)."""
    for group in load_yaml(ROOT / "prometheus" / "rules" / "availability.yml")["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == "host:agents:count":
                [regex] = re.findall(r'job=~"([^"]+)"', rule["expr"])
                return re.compile(f"^(?:{regex})$")
    raise AssertionError("no host:agents:count rule")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_host_has_two_agents_so_hostdown_can_fire(env: str) -> None:
    """HostDown needs two agents of a host failing twice in a row: a host with one agent
    would never be reported down, only its exporter."""
    agents: dict[str, int] = {}
    jobs = agent_jobs()
    for job in scrape_jobs():
        if jobs.match(job["job_name"]):
            for group in targets_of(env, job):
                host = group["labels"]["host"]
                agents[host] = agents.get(host, 0) + len(group["targets"])
    assert agents and all(count >= 2 for count in agents.values()), agents

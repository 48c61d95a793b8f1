"""The stacks, as rendered in every environment, are the NAP-DMS estate as it really runs.

Every stack is rendered (base + overlay + env file) and compared with the machine-readable
contract in tests/fixtures/estate-contract/: service names (the host names the applications
use), fixed variables, secrets supplied from files (natively or by the env-from-files wrapper),
the backend's required variables, image versions never older than the estate's, users,
healthchecks, prod limits and published ports, data paths (bound to the NAS data roots in prod,
named volumes elsewhere), MariaDB's character set and collation, Redis's eviction policy, and
the edge's public names and routes. Every difference must be listed in the contract's
`differences` (with reason and migration step), every listed one must still exist, and
docs/compose.md must name each.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from compose_render import COMPOSE, ENVS, STACKS, env_values, render
from estate_contract import (
    Findings,
    findings,
    load_contract,
    route_findings,
    site_routes,
)

from helpers import ROOT, require_docker

EDGE = COMPOSE / "config" / "edge"


def listed(contract: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {d["key"]: d for d in contract["differences"]}


def edge_findings(contract: dict[str, Any], env: str) -> Findings:
    nginx = render("edge", env)["services"]["nginx"]
    certbot = render("edge", env)["services"]["certbot"]
    variables = {k: str(v) for k, v in nginx["environment"].items() if v is not None}
    templates = {p.name: p.read_text("utf-8") for p in (EDGE / "templates").glob("*.template")}
    upstreams = "\n".join(p.read_text("utf-8") for p in (EDGE / "upstreams").glob("*.conf"))
    domains = re.split(r"[\s,]+", str(certbot["environment"].get("CERTBOT_DOMAINS") or "").strip())
    certified = {d for d in domains if d} or None
    routes = site_routes(templates, upstreams, variables)
    return route_findings(contract, routes, variables["NAP_DOMAIN"], certified)


def env_findings(env: str) -> Findings:
    contract = load_contract()
    models = {stack: render(stack, env) for stack in STACKS}
    domain = env_values("apps", env).get("NAP_DOMAIN", contract["domain"])

    def read(path: str) -> str:
        return Path(path).read_text("utf-8")

    return findings(contract, models, env, domain, read) | edge_findings(contract, env)


@pytest.mark.parametrize("env", ENVS)
def test_every_difference_from_the_estate_is_listed(env: str) -> None:
    require_docker()
    contract = load_contract()
    unlisted = {k: v for k, v in env_findings(env).items() if k not in listed(contract)}
    assert not unlisted, (
        f"{env}: the stacks differ from the estate (tests/fixtures/estate-contract) where no "
        "difference is listed; fix the stack or list it with reason and migration step:\n"
        + "\n".join(f"  {k}: {v}" for k, v in sorted(unlisted.items()))
    )


def test_every_listed_difference_still_exists() -> None:
    require_docker()
    contract = load_contract()
    seen: set[str] = set()
    for env in ENVS:
        seen |= set(env_findings(env))
    stale = sorted(set(listed(contract)) - seen)
    assert not stale, f"listed differences that no environment shows any more: {stale}"


def test_every_difference_has_a_reason_and_a_migration_step() -> None:
    for diff in load_contract()["differences"]:
        for field in ("key", "estate", "napops", "reason", "migration"):
            assert str(diff.get(field) or "").strip(), f"{diff.get('key')}: no {field}"


def test_docs_name_every_difference() -> None:
    docs = (ROOT / "docs" / "compose.md").read_text("utf-8")
    missing = [d["key"] for d in load_contract()["differences"] if f"`{d['key']}`" not in docs]
    assert not missing, f"docs/compose.md has no line for: {missing}"


# ---- the checker itself: it reports what it is meant to ----

BASE_SERVICE: dict[str, Any] = {
    "image": "mariadb:11.8.3",
    "user": "999:999",
    "environment": {"MARIADB_DATABASE": "lcbp3"},
    "volumes": [{"type": "volume", "source": "db", "target": "/var/lib/mysql"}],
    "healthcheck": {"test": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]},
    "deploy": {"resources": {"limits": {"cpus": "2.00", "memory": "4G"}}},
}
MINI = {
    "domain": "example.org",
    "services": {
        "mariadb": {
            "stack": "data",
            "image": {"name": "mariadb", "version": "11.8"},
            "user": "999:999",
            "env": {"MARIADB_DATABASE": "lcbp3"},
            "secrets": {"MARIADB_PASSWORD": "native"},
            "healthcheck": "healthcheck.sh --connect",
            "limits": {"cpus": 2.0, "memory": "4G"},
            "data": {"/var/lib/mysql": "/share/np-dms/mariadb/data"},
        }
    },
    "routes": {"lcbp3.{domain}": {"upstream": "frontend:3000"}},
}


def model(svc: dict[str, Any], device: str | None = None) -> dict[str, dict[str, Any]]:
    opts = {"driver_opts": {"type": "none", "o": "bind", "device": device}} if device else {}
    return {"data": {"services": {"mariadb": svc}, "volumes": {"db": opts}}}


def test_the_checker_reports_each_kind_of_difference() -> None:
    svc = {
        **BASE_SERVICE,
        "image": "mariadb:11.4.4",
        "user": "65532:65532",
        "environment": {"MARIADB_DATABASE": "napdms", "MARIADB_PASSWORD": "plain"},
        "deploy": {"resources": {"limits": {"cpus": "1.00", "memory": "2G"}}},
    }
    got = findings(MINI, model(svc), "prod", "example.org", lambda p: "")
    assert set(got) == {
        "mariadb.version",
        "mariadb.user",
        "mariadb.env:MARIADB_DATABASE",
        "mariadb.secret:MARIADB_PASSWORD",
        "mariadb.limits:cpus",
        "mariadb.limits:memory",
        "mariadb.data:/var/lib/mysql",
    }, got


def test_the_checker_accepts_the_estate() -> None:
    svc = {
        **BASE_SERVICE,
        "environment": {"MARIADB_DATABASE": "lcbp3", "MARIADB_PASSWORD_FILE": "/run/secrets/p"},
        "secrets": [{"source": "p"}],
    }
    prod = model(svc, device="/share/np-dms/mariadb/data")
    assert findings(MINI, prod, "prod", "example.org", lambda p: "") == {}
    # dev: a named volume, not the NAS path
    assert findings(MINI, model(svc), "dev", "example.org", lambda p: "") == {}
    assert set(findings(MINI, prod, "dev", "example.org", lambda p: "")) == {
        "mariadb.data:/var/lib/mysql"
    }


def test_the_checker_reads_routes_from_site_templates() -> None:
    template = (
        "server {\n    listen 443 ssl;\n    server_name lcbp3.${NAP_DOMAIN};\n"
        "    location / {\n        proxy_pass http://frontend;\n    }\n}\n"
    )
    upstreams = "upstream frontend {\n    server frontend:3000 resolve;\n}\n"
    routes = site_routes({"a": template}, upstreams, {"NAP_DOMAIN": "example.org"})
    assert routes == {"lcbp3.example.org": "frontend:3000"}
    assert route_findings(MINI, routes, "example.org", {"lcbp3.example.org"}) == {}
    assert set(route_findings(MINI, routes, "example.org", set())) == {"certbot:lcbp3.{domain}"}
    wrong = site_routes(
        {"a": template.replace("lcbp3", "dms")}, upstreams, {"NAP_DOMAIN": "example.org"}
    )
    assert set(route_findings(MINI, wrong, "example.org", None)) == {
        "route:lcbp3.{domain}",
        "route:dms.{domain}",
    }


# ---- the host names in the applications' variables answer where the applications run ----

# service -> (host variable, port variable or fixed port) pairs, and URL variables
HOST_PORT_VARS: dict[str, list[tuple[str, str]]] = {
    "backend": [
        ("DB_HOST", "DB_PORT"),
        ("REDIS_HOST", "REDIS_PORT"),
        ("ELASTICSEARCH_HOST", "ELASTICSEARCH_PORT"),
        ("CLAMAV_HOST", "CLAMAV_PORT"),
    ],
    "pma": [("PMA_HOST", "PMA_PORT")],
    "n8n": [("DB_POSTGRESDB_HOST", "DB_POSTGRESDB_PORT")],
}
URL_VARS: dict[str, list[str]] = {
    "frontend": ["INTERNAL_API_URL"],
    "gitea": ["GITEA__database__HOST"],
    "n8n": ["DOCKER_HOST", "TIKA_URL"],
    "rocketchat": ["MONGO_URL", "MONGO_OPLOG_URL"],
}


def addresses(name: str, environment: dict[str, str]) -> list[tuple[str, str]]:
    """(variable, host:port) the service opens, from its variables."""
    found = [
        (host, f"{environment[host]}:{environment[port]}")
        for host, port in HOST_PORT_VARS.get(name, [])
    ]
    for var in URL_VARS.get(name, []):
        value = environment[var]
        address = re.sub(r"^\w+://(?:[^@/]*@)?", "", value).split("/", 1)[0].split("?", 1)[0]
        found.append((var, address))
    return found


@pytest.mark.parametrize("env", ENVS)
def test_the_host_names_the_applications_use_answer_where_they_run(env: str) -> None:
    require_docker()
    from estate_model import Unreachable, build

    estate = build(env)
    problems = []
    for name in sorted(set(HOST_PORT_VARS) | set(URL_VARS)):
        origin = estate.find(name)
        for var, address in addresses(name, origin.environment):
            try:
                estate.reach(origin, address)
            except Unreachable as exc:
                problems.append(f"{env}: {name} {var}: {exc}")
    assert not problems, "\n".join(problems)


def test_a_host_name_no_service_answers_is_reported() -> None:
    """The estate's names are what napops once lacked: `redis` instead of `cache` fails."""
    require_docker()
    from estate_model import Unreachable, build

    estate = build("prod")
    backend = estate.find("backend")
    wrong = dict(backend.environment, REDIS_HOST="redis")
    [(_, address)] = [a for a in addresses("backend", wrong) if a[0] == "REDIS_HOST"]
    with pytest.raises(Unreachable, match="'redis' is no service"):
        estate.reach(backend, address)


def test_prod_data_folders_lie_under_the_data_roots_of_their_host() -> None:
    """compose/hosts.yml names each NAS's data roots; every folder a prod overlay binds lies
    under a root of the host that runs that stack (a QNAP path on the ASUSTOR would be empty)."""
    require_docker()
    from estate_model import placement

    problems = []
    for host, spec in placement()["prod"]["hosts"].items():
        roots = spec.get("data_roots") or []
        for stack in spec["stacks"]:
            for key, vol in (render(stack, "prod").get("volumes") or {}).items():
                device = ((vol or {}).get("driver_opts") or {}).get("device")
                if device and not any(device.startswith(root.rstrip("/") + "/") for root in roots):
                    problems.append(
                        f"{stack} on {host}: volume {key} binds {device}, not under {roots}"
                    )
    assert not problems, "\n".join(problems)

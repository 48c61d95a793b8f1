"""The shipped certificate rules on a real Prometheus, scraping what production scrapes: a real
napops-certs process (job napops) and a real node exporter (job node) whose textfile directory
holds the report of the project's certbot loop (certbot-loop.sh, two failed passes: the ACME
server is unreachable). The loop's live directory holds a 90-day certificate with 10 days left
that certbot has not renewed; the sidecar probes a TLS server presenting it. Fired:
CertificateRenewalOverdue and CertbotRenewalFailing (from the node job, as on the QNAP) and
CertificateExpiringSoon (from the sidecar); CertificateRenewalNotServed's join of the two jobs
on cert_host meets (and does not fire: certbot's certificate is the one served). (Pebble 2.4
issues 5-year certificates, so the short-lived certificate comes from the test PKI; the Pebble
flow is in test_certs_acme.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from certpki import DAY, Pki, TlsServer, closed_port, write_chain

from helpers import ROOT, free_port, require_tool, wait_for

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["data"]


EDGE = ROOT / "compose" / "config" / "edge"


def certbot_passes(root: Path, live: Path, textfile: Path, passes: int) -> None:
    """The project's certbot loop, one pass at a time, against an ACME server that is not
    there: each pass fails (the lineage ``new.test`` cannot be obtained) and is reported."""
    require_tool("certbot")
    for _ in range(passes):
        env = {
            "PATH": os.environ["PATH"],
            "CERTBOT_ONCE": "1",
            "CERTBOT_DOMAINS": "new.test",
            "CERTBOT_EMAIL": "ops@np-dms.work",
            "CERTBOT_SERVER": f"https://127.0.0.1:{closed_port()}/dir",
            "CERTBOT_WEBROOT": str(root / "acme"),
            "CERTBOT_LIVE_DIR": str(live),
            "CERTBOT_TEXTFILE": str(textfile),
            "CERTBOT_REPORTER": str(EDGE / "certbot-textfile.py"),
            "CERTBOT_HEARTBEAT": str(root / "heartbeat"),
            "CERTBOT_EXTRA_ARGS": (
                f"--config-dir {root}/le --work-dir {root}/work --logs-dir {root}/logs"
            ),
        }
        proc = subprocess.run(
            ["sh", str(EDGE / "certbot-loop.sh")], env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert proc.returncode != 0 and "issue_failed" in proc.stdout, proc.stdout + proc.stderr


@pytest.fixture
def stack(pki: Pki, trust: Path, tmp_path: Path) -> Iterator[str]:
    prometheus = require_tool("prometheus")
    node_exporter = require_tool("prometheus-node-exporter")
    # a 90-day certificate issued 80 days ago: certbot should have renewed it 20 days ago
    issued = pki.leaf("dms.np-dms.work", not_before=-80 * DAY, not_after=10 * DAY)
    server = TlsServer(*write_chain(tmp_path, "dms", issued, pki.inter))
    live = tmp_path / "live" / "dms.np-dms.work"
    live.mkdir(parents=True)
    (live / "cert.pem").write_bytes(issued.pem())
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    certbot_passes(tmp_path, tmp_path / "live", textfile / "napops_certbot.prom", passes=2)
    config = {
        "certs": {
            "schedule": "* * * * *",
            "trust_store": [str(trust)],
            "acme_issuers": ["^napops test intermediate$"],
            # the edge's address, the site's name as SNI (cert_host dms.np-dms.work)
            "endpoints": [{"target": server.target, "server_name": "dms.np-dms.work"}],
        }
    }
    (tmp_path / "certs.yml").write_text(yaml.safe_dump(config))
    port, node_port = free_port(), free_port()
    sidecar = subprocess.Popen(
        [str(BIN / "napops-certs"), "--config", str(tmp_path / "certs.yml")],
        env={
            "PATH": "/usr/bin:/bin",
            "NAPOPS__LISTEN__PORT": str(port),
            "NAPOPS__STATE_DIR": str(tmp_path / "state"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    node = subprocess.Popen(
        [node_exporter, "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={textfile}",
         f"--web.listen-address=127.0.0.1:{node_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("certs.yml", "certificates.yml"):
        shutil.copy(ROOT / "prometheus" / "rules" / name, rules / name)
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules / "*.yml")],
                "scrape_configs": [
                    {
                        "job_name": "napops",
                        "static_configs": [
                            {
                                "targets": [f"127.0.0.1:{port}"],
                                "labels": {"host": "local", "sidecar": "certs"},
                            }
                        ],
                    },
                    {
                        "job_name": "node",
                        "static_configs": [
                            {"targets": [f"127.0.0.1:{node_port}"], "labels": {"host": "qnap"}}
                        ],
                    },
                ],
            }
        )
    )
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{prom_port}"
    finally:
        for p in (prom, sidecar, node):
            p.terminate()
            p.wait(30)
        server.close()


def firing(url: str) -> dict[str, dict[str, str]]:
    alerts = get(f"{url}/api/v1/alerts")["alerts"]
    return {a["labels"]["alertname"]: a["labels"] for a in alerts if a["state"] == "firing"}


def test_overdue_renewal_fires_live(stack: str) -> None:
    got = wait_for(
        lambda: (
            (f := firing(stack))
            and {"CertificateRenewalOverdue", "CertificateExpiringSoon", "CertbotRenewalFailing"}
            <= set(f)
            and f
        ),
        timeout=90,
        interval=1,
        what="the certificate alerts to fire",
    )
    overdue = got["CertificateRenewalOverdue"]
    assert (overdue["job"], overdue["host"], overdue["certificate"]) == (
        "node",
        "qnap",
        "dms.np-dms.work",
    )
    failing = got["CertbotRenewalFailing"]
    assert (failing["job"], failing["host"]) == ("node", "qnap")
    soon = got["CertificateExpiringSoon"]
    assert (soon["sidecar"], soon["issuer_cn"], soon["cert_host"]) == (
        "certs",
        "napops test intermediate",
        "dms.np-dms.work",
    )
    assert "CertificateExpiringCritical" not in got
    assert "CertificateVerificationFailing" not in got
    assert "CertbotHeartbeatMissing" not in got and "CertbotReportMissing" not in got
    query = urllib.parse.quote("napops_certs_expiry_seconds / 86400")
    (series,) = get(f"{stack}/api/v1/query?query={query}")["result"]
    assert 9 < float(series["value"][1]) < 10
    query = urllib.parse.quote("napops_certbot_consecutive_failures")
    (series,) = get(f"{stack}/api/v1/query?query={query}")["result"]
    assert float(series["value"][1]) == 2
    # CertificateRenewalNotServed joins certbot's report (job node) and the served certificate
    # (job napops) on cert_host: with the labels real scrapes give they meet, and the
    # certificate certbot holds is the one served (difference 0, so no alert)
    assert "CertificateRenewalNotServed" not in got
    rules = yaml.safe_load((ROOT / "prometheus" / "rules" / "certs.yml").read_text())
    (expr,) = [
        r["expr"].strip()
        for g in rules["groups"]
        for r in g["rules"]
        if r.get("alert") == "CertificateRenewalNotServed"
    ]
    assert expr.endswith("> 0"), expr
    query = urllib.parse.quote(expr.removesuffix("> 0"))
    (series,) = get(f"{stack}/api/v1/query?query={query}")["result"]
    assert series["metric"] == {
        "job": "node",
        "instance": series["metric"]["instance"],
        "host": "qnap",
        "certificate": "dms.np-dms.work",
        "cert_host": "dms.np-dms.work",
    }
    assert float(series["value"][1]) == 0

"""The shipped certs rules on a real Prometheus scraping a real napops-certs process: an
ACME certificate with 10 days left (its issuer is configured as the ACME CA) makes
CertificateRenewalOverdue and CertificateExpiringSoon fire, and a certbot status file with two
failed passes makes CertbotRenewalFailing fire. (Pebble 2.4 issues 5-year certificates, so the
short-lived "ACME" certificate comes from the test PKI; the Pebble flow is in
test_certs_acme.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from certpki import DAY, Pki, TlsServer, write_chain

from helpers import ROOT, free_port, require_tool, wait_for

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["data"]


@pytest.fixture
def stack(pki: Pki, trust: Path, tmp_path: Path) -> Iterator[str]:
    prometheus = require_tool("prometheus")
    server = TlsServer(
        *write_chain(tmp_path, "dms", pki.leaf("localhost", not_after=10 * DAY), pki.inter)
    )
    status = tmp_path / "napops-certbot.status"
    now = int(time.time())
    status.write_text(
        f"last_run={now}\nlast_success={now - 86400}\nconsecutive_failures=2\nresult=failed\n"
    )
    config = {
        "certs": {
            "schedule": "* * * * *",
            "trust_store": [str(trust)],
            "acme_issuers": ["^napops test intermediate$"],
            "endpoints": [{"target": server.target}],
            "renewal_status_files": [str(status)],
        }
    }
    (tmp_path / "certs.yml").write_text(yaml.safe_dump(config))
    port = free_port()
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
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(ROOT / "prometheus" / "rules" / "certs.yml", rules / "certs.yml")
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
                    }
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
        for p in (prom, sidecar):
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
        what="the certs alerts to fire",
    )
    overdue = got["CertificateRenewalOverdue"]
    assert (overdue["acme"], overdue["issuer_cn"], overdue["sidecar"]) == (
        "true",
        "napops test intermediate",
        "certs",
    )
    assert "CertificateExpiringCritical" not in got
    assert "CertificateVerificationFailing" not in got
    query = urllib.parse.quote("napops_certs_expiry_seconds / 86400")
    (series,) = get(f"{stack}/api/v1/query?query={query}")["result"]
    assert 9 < float(series["value"][1]) < 10

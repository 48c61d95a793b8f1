"""napops-certs as a real process: the first round runs at start, /metrics serves the cached
results (expired certificates with their dates, failed probes with their reason), /probe
answers for one ad-hoc target from a fresh registry, and bad /probe input is a 400 with a
JSON reason. `napops certs check` prints the same facts and sets its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from certpki import DAY, Hang, Pki, TlsServer, write_chain
from prometheus_client.parser import text_string_to_metric_families

from helpers import free_port, wait_for

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    ]


@pytest.fixture(scope="module")
def estate(pki: Pki, trust: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    d = tmp_path_factory.mktemp("estate")
    good = TlsServer(*write_chain(d, "good", pki.leaf("localhost"), pki.inter))
    soon = TlsServer(*write_chain(d, "soon", pki.leaf("localhost", not_after=3 * DAY), pki.inter))
    old = TlsServer(
        *write_chain(
            d, "old", pki.leaf("localhost", not_before=-60 * DAY, not_after=-5 * DAY), pki.inter
        )
    )
    hang = Hang()
    (d / "live" / "dms").mkdir(parents=True)
    (d / "live" / "dms" / "cert.pem").write_bytes(pki.leaf("dms.example.test").pem())
    (d / "junk.pem").write_bytes(b"not a certificate\n")
    servers = {"good": good, "soon": soon, "old": old, "hang": hang}
    config = {
        "certs": {
            "timeout_seconds": 1,
            "trust_store": [str(trust)],
            "endpoints": [{"target": s.target} for s in servers.values()],
            "files": [{"path": str(d / "live" / "*" / "cert.pem")}, {"path": str(d / "junk.pem")}],
        }
    }
    path = d / "certs.yml"
    path.write_text(yaml.safe_dump(config))
    yield {"config": path, "dir": d, **servers}
    for s in servers.values():
        s.close()


@pytest.fixture(scope="module")
def sidecar(estate: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    state = tmp_path_factory.mktemp("state")
    env = {
        "PATH": "/usr/bin:/bin",
        "NAPOPS__LISTEN__PORT": str(port),
        "NAPOPS__LISTEN__HOST": "127.0.0.1",
        "NAPOPS__STATE_DIR": str(state),
    }
    proc = subprocess.Popen(
        [str(BIN / "napops-certs"), "--config", str(estate["config"])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def first_round_done() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        text = requests.get(f"{url}/metrics", timeout=5).text
        return any(
            n == "napops_certs_round_timestamp_seconds" and v > 0 for n, _, v in samples(text)
        )

    try:
        wait_for(first_round_done, timeout=30, what="the first probe round")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_metrics_report_every_target(sidecar: str, estate: dict) -> None:
    got = samples(requests.get(f"{sidecar}/metrics", timeout=5).text)
    success = {
        lb["target"]: (v, lb["reason"]) for n, lb, v in got if n == "napops_certs_probe_success"
    }
    assert success[estate["good"].target] == (1.0, "ok")
    assert success[estate["hang"].target] == (0.0, "timeout")
    assert success[str(estate["dir"] / "junk.pem")] == (0.0, "pem_garbage")
    assert success[str(estate["dir"] / "live" / "dms" / "cert.pem")] == (1.0, "ok")
    expiry = {lb["target"]: v for n, lb, v in got if n == "napops_certs_expiry_seconds"}
    assert expiry[estate["old"].target] < -4 * 86400, "an expired certificate keeps its dates"
    assert 2 * 86400 < expiry[estate["soon"].target] < 3 * 86400
    verified = {
        lb["target"]: lb["reason"] for n, lb, v in got if n == "napops_certs_verification_ok"
    }
    assert verified[estate["old"].target] == "expired"
    assert verified[estate["good"].target] == "ok"
    # a lone leaf on disk has no intermediate beside it
    assert verified[str(estate["dir"] / "live" / "dms" / "cert.pem")] == "unknown_issuer"


def test_probe_endpoint_uses_a_fresh_registry(sidecar: str, estate: dict) -> None:
    first = requests.get(
        f"{sidecar}/probe", params={"target": estate["soon"].target, "module": "tls"}, timeout=10
    )
    assert first.status_code == 200
    got = samples(first.text)
    targets = {lb.get("target") for _, lb, _ in got if "target" in lb}
    assert targets == {estate["soon"].target}
    assert ("napops_certs_probe_success", 1.0) in [(n, v) for n, _, v in got]
    second = requests.get(f"{sidecar}/probe", params={"target": estate["good"].target}, timeout=10)
    assert {lb.get("target") for _, lb, _ in samples(second.text) if "target" in lb} == {
        estate["good"].target
    }
    adhoc = requests.get(
        f"{sidecar}/probe", params={"target": "localhost:1", "module": "tls"}, timeout=10
    )
    assert 'reason="connection_refused"' in adhoc.text
    metrics = requests.get(f"{sidecar}/metrics", timeout=5).text
    assert "localhost:1" not in metrics, "ad-hoc probes stay out of /metrics"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "target"),
        ({"target": "localhost:443", "module": "nope"}, "unknown module"),
        ({"target": "no-port"}, "host:port"),
        ({"target": "::1:443"}, "[address]:port"),
    ],
)
def test_probe_bad_input_is_a_400(sidecar: str, params: dict, fragment: str) -> None:
    r = requests.get(f"{sidecar}/probe", params=params, timeout=10)
    assert r.status_code == 400
    assert fragment in r.json()["reason"]


def run_check(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "napops"), "certs", "check", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_lists_problems_and_fails(estate: dict) -> None:
    proc = run_check(estate["config"])
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    row = {line.split()[1]: line.split()[0] for line in lines[1:] if len(line.split()) > 1}
    assert row[estate["good"].target] == "ok"
    assert row[estate["soon"].target] == "critical"
    assert row[estate["old"].target] == "expired"
    assert row[estate["hang"].target] == "failed"
    as_json = json.loads(run_check(estate["config"], "--json").stdout)
    assert as_json["ok"] is False
    states = {c["target"]: c["state"] for c in as_json["certificates"]}
    assert states[estate["soon"].target] == "critical"


def test_check_passes_when_all_is_well(estate: dict, trust: Path, tmp_path: Path) -> None:
    config = tmp_path / "ok.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "certs": {
                    "trust_store": [str(trust)],
                    "endpoints": [{"target": estate["good"].target}],
                }
            }
        )
    )
    proc = run_check(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all fine" in proc.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"certs": {"endpoints": [{"host": "x"}]}}))
    proc = run_check(bad)
    assert proc.returncode == 2
    assert "At 'certs.endpoints[0].target': required but missing" in proc.stderr

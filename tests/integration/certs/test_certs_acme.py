"""Certificates issued and renewed for real: certbot (the project's loop and deploy hook)
against Pebble, HTTP-01 through the project's nginx edge (run by edge-start.sh as an
unprivileged user), served with SNI; a forced renewal under load; renewals nginx cannot use
(a key it cannot read, a chain it rejects) that must not take the edge down; Pebble away.
The certs exporter (its Prober and metrics, in-process) watches it all.

The renewal tests change the dms lineage only (``--cert-name``) and each ends with a good
renewal, so they do not depend on each other; the Pebble-away test runs last."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from acme_env import EDGE, Certbot, Edge, Pebble, make_root, template_names, wait_served
from certpki import Pki, issue
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from helpers import free_port, require_tool, wait_for
from napops.certs.metrics import render
from napops.certs.probe import Cache, Prober

pytestmark = pytest.mark.integration
DMS = "lcbp3.np-dms.work"  # the application's site
ONLY_DMS = f"--force-renewal --cert-name {DMS}"


@dataclass
class Acme:
    edge: Edge
    pebble: Pebble
    certbot: Certbot
    entries: list[str]  # CERTBOT_DOMAINS entries: one per certificate, "a,b" for two names
    trust: Path

    @property
    def names(self) -> list[str]:
        """Every host name the edge serves."""
        return [n for e in self.entries for n in e.split(",")]


def is_pebble(cert: x509.Certificate) -> bool:
    issuer = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return str(issuer).startswith("Pebble Intermediate CA")


@pytest.fixture(scope="module")
def acme() -> Iterator[Acme]:
    root = make_root()
    pki = Pki()
    edge = Edge(root)
    pebble = Pebble(root / "pebble", edge.http_port, pki)
    entries = template_names()
    try:
        edge.start()
        pebble.start_dns()
        pebble.start()
        certbot = Certbot(edge, pebble, entries)
        first = certbot.run_pass()
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:] + edge.log()
        trust = root / "pebble-roots.pem"
        trust.write_bytes(pebble.roots_pem())
        wait_for(
            lambda: len(edge.enabled()) == len(entries),
            timeout=30,
            what="every TLS site enabled after issuance",
        )
        yield Acme(edge, pebble, certbot, entries, trust)
    finally:
        edge.stop()
        pebble.stop()
        shutil.rmtree(root, ignore_errors=True)


def prober(acme: Acme, **extra: Any) -> Prober:
    return Prober(
        {
            "timeout_seconds": 5,
            "concurrency": 8,
            "trust_store": [str(acme.trust)],
            "acme_issuers": ["^Pebble Intermediate CA"],
            "endpoints": [
                {"target": f"127.0.0.1:{acme.edge.https_port}", "server_name": n}
                for n in acme.names
            ],
            "files": [
                {
                    "path": str(acme.edge.letsencrypt / "live" / "*" / "fullchain.pem"),
                    "contents": "chain",
                }
            ],
            **extra,
        }
    )


def metrics_of(p: Prober) -> list[tuple[str, dict[str, str], float]]:
    cache = Cache()
    cache.put(p.round())
    text = render(cache.get()).decode()
    return [
        (s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples
    ]


def not_after(metrics: list[tuple[str, dict[str, str], float]], kind: str, cn: str) -> float:
    values = [
        v
        for n, lb, v in metrics
        if n == "napops_certs_not_after_timestamp_seconds"
        and lb["kind"] == kind
        and lb["subject_cn"] == cn
    ]
    assert len(values) == 1, (kind, cn, values)
    return values[0]


def test_every_estate_host_is_issued_and_served_with_sni(acme: Acme) -> None:
    report = acme.certbot.report()
    assert report["napops_certbot_last_run_success"] == 1
    assert report["napops_certbot_consecutive_failures"] == 0
    # Pebble validated every name by HTTP-01 through nginx's acme-challenge location
    access = (acme.edge.root / "access.log").read_text()
    challenged = {
        json.loads(line)["host"]
        for line in access.splitlines()
        if "/.well-known/acme-challenge/" in line and json.loads(line)["status"] == 200
    }
    assert challenged == set(acme.names)
    for entry in acme.entries:
        for name in entry.split(","):
            cert = wait_served(acme.edge, name, is_pebble)
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(entry.split(","))
    results = prober(acme).round().results
    endpoints = [r for r in results if r.kind == "endpoint"]
    assert len(endpoints) == len(acme.names)
    for r in endpoints:
        assert r.success, (r.target, r.reason, r.detail)
        (c,) = r.certs
        assert (c.verification, c.acme) == ("ok", True), r.target
    files = [r for r in results if r.kind == "file"]
    assert len(files) == len(acme.entries)
    assert {r.certs[0].info.subject_cn for r in files} <= set(acme.names)
    assert {r.certs[0].verification for r in files} == {"ok"}
    # the loop's report names each lineage with the dates of the certificate nginx serves
    lineages = {e.split(",")[0] for e in acme.entries}
    assert {k.split("/")[1] for k in report if "/" in k} == lineages
    for lineage in lineages:
        served = acme.edge.served(lineage)
        assert report[f"napops_certbot_certificate_not_after_timestamp_seconds/{lineage}"] == (
            served.not_valid_after_utc.timestamp()
        )
        assert report[f"napops_certbot_certificate_not_before_timestamp_seconds/{lineage}"] == (
            served.not_valid_before_utc.timestamp()
        )


class Load:
    """Clients making fresh HTTPS connections (SNI dms) and GET / through the edge to its
    backend, counting failures and the certificates seen."""

    def __init__(self, port: int, threads: int = 4):
        self.port, self.stop = port, threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.serials: set[int] = set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _run(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), 5) as raw:
                    with ctx.wrap_socket(raw, server_hostname=DMS) as tls:
                        der = tls.getpeercert(binary_form=True)
                        tls.sendall(
                            f"GET / HTTP/1.1\r\nHost: {DMS}\r\nConnection: close\r\n\r\n".encode()
                        )
                        data = b""
                        while chunk := tls.recv(4096):
                            data += chunk
                status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else b"?"
                with self.lock:
                    if status == b"200" and der:
                        self.ok += 1
                        self.serials.add(x509.load_der_x509_certificate(der).serial_number)
                    else:
                        self.failures.append(f"status {status!r}")
            except (OSError, ssl.SSLError) as exc:
                with self.lock:
                    self.failures.append(repr(exc))


def test_forced_renewal_changes_the_served_certificate_without_a_failed_request(
    acme: Acme,
) -> None:
    before = acme.edge.served(DMS).serial_number
    with Load(acme.edge.https_port) as load:
        wait_for(lambda: load.ok > 20, what="load running")
        proc = acme.certbot.run_pass(ONLY_DMS)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        wait_served(acme.edge, DMS, lambda c: c.serial_number != before)
        seen = load.ok
        wait_for(lambda: load.ok > seen + 20, what="load after the reload")
    assert load.failures == [], load.failures[:10]
    assert before in load.serials and len(load.serials) == 2, "old, then renewed certificate"
    assert "reloaded" in acme.edge.events()


def _refused_and_previous_kept(acme: Acme, run: Any) -> list[tuple[str, dict[str, str], float]]:
    """Run a renewal nginx cannot use; returns the exporter's series afterwards."""
    before = {n: acme.edge.served(n).serial_number for n in acme.names}
    refusals = acme.edge.events().count("reload_refused")
    proc = run()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wait_for(
        lambda: acme.edge.events().count("reload_refused") > refusals,
        timeout=30,
        what="edge-start.sh to refuse the reload",
    )
    # the edge is up and every site serves what it served before
    assert {n: acme.edge.served(n).serial_number for n in acme.names} == before
    assert acme.edge.proc is not None and acme.edge.proc.poll() is None
    return metrics_of(prober(acme))


def _recovers(acme: Acme) -> None:
    proc = acme.certbot.run_pass(ONLY_DMS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the renewal now on disk is the one served (not merely a different one than before)
    on_disk = x509.load_pem_x509_certificate(
        (acme.edge.letsencrypt / "live" / DMS / "cert.pem").read_bytes()
    ).serial_number
    try:
        wait_served(acme.edge, DMS, lambda c: c.serial_number == on_disk)
    except AssertionError as exc:
        served = acme.edge.served(DMS)
        raise AssertionError(
            f"{exc}\nserved serial {served.serial_number:X} (not after "
            f"{served.not_valid_after_utc}), on disk {on_disk:X}\n{acme.edge.log()}"
        ) from None

    # nginx's old workers finish their graceful shutdown after the reload: until they have, a
    # new connection can still reach one and get the previous certificate (a full CI run saw
    # the exporter's probe do so just after this test's own connection got the new one)
    def agree() -> bool:
        m = metrics_of(prober(acme))
        return not_after(m, "file", DMS) == not_after(m, "endpoint", DMS)

    wait_for(agree, timeout=30, what="the exporter to see the renewal on disk served")


def test_a_key_nginx_cannot_read_keeps_the_previous_certificate(acme: Acme) -> None:
    # the deploy hook gives the new key to the wrong group (NGINX_GID misconfigured)
    m = _refused_and_previous_kept(acme, lambda: acme.certbot.run_pass(ONLY_DMS, nginx_gid=65534))
    # the renewed certificate on disk is not served, and certbot's report (what the rule
    # CertificateRenewalNotServed compares in prod, lineage = the site's name) says so too
    assert not_after(m, "file", DMS) > not_after(m, "endpoint", DMS)
    report = acme.certbot.report()
    assert report[f"napops_certbot_certificate_not_after_timestamp_seconds/{DMS}"] == not_after(
        m, "file", DMS
    )
    _recovers(acme)


def test_a_chain_nginx_rejects_keeps_the_previous_certificate(acme: Acme, tmp_path: Path) -> None:
    # a renewal whose fullchain does not belong to its key (nginx -t: key values mismatch)
    stranger = issue(DMS, names=[DMS])
    (tmp_path / "stranger.pem").write_bytes(stranger.pem())
    hook = tmp_path / "hook.sh"
    hook.write_text(
        "#!/bin/sh\nset -eu\n"
        f'cat "{tmp_path}/stranger.pem" > "$(readlink -f "$RENEWED_LINEAGE/fullchain.pem")"\n'
        f'exec sh "{EDGE}/certbot-deploy-hook.sh"\n'
    )
    hook.chmod(0o755)
    m = _refused_and_previous_kept(acme, lambda: acme.certbot.run_pass(ONLY_DMS, hook=hook))
    # the chain on disk does not verify (rule CertificateVerificationFailing)
    on_disk = [
        lb["reason"]
        for n, lb, _ in m
        if n == "napops_certs_verification_ok" and lb["kind"] == "file" and lb["subject_cn"] == DMS
    ]
    assert on_disk == ["self_signed"]
    _recovers(acme)


def test_with_pebble_away_renewal_fails_and_serving_goes_on(acme: Acme) -> None:
    served = acme.edge.served(DMS).serial_number
    before = acme.certbot.report()
    acme.pebble.stop_ca()
    for attempt in (1, 2):
        proc = acme.certbot.run_pass(ONLY_DMS)
        assert proc.returncode != 0
        assert "renew_failed" in proc.stdout
        report = acme.certbot.report()
        assert report["napops_certbot_last_run_success"] == 0
        assert report["napops_certbot_consecutive_failures"] == attempt
    assert acme.edge.served(DMS).serial_number == served
    # CertbotRenewalFailing fires at 2; the last success is the one before Pebble went away
    last_ok = report["napops_certbot_last_success_timestamp_seconds"]
    assert last_ok == before["napops_certbot_last_success_timestamp_seconds"]
    assert 0 < last_ok < report["napops_certbot_last_run_timestamp_seconds"] <= time.time()
    # and that is what Prometheus gets: the real node exporter serves the file as written
    scraped = node_exporter_scrape(acme.certbot.textfile_dir)
    assert scraped["node_textfile_scrape_error"] == 0
    assert {k: v for k, v in scraped.items() if k.startswith("napops_certbot_")} == report


def node_exporter_scrape(directory: Path) -> dict[str, float]:
    """The samples a real node exporter serves with ``directory`` as its textfile directory
    (only the textfile collector enabled), keyed as Certbot.report() keys them."""
    binary = require_tool("prometheus-node-exporter")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={directory}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        text = wait_for(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
                .read()
                .decode()
            ),
            timeout=20,
            what="the node exporter",
        )
    finally:
        proc.terminate()
        proc.wait(10)
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "file"}
            key = sample.name + (f"/{labels['certificate']}" if "certificate" in labels else "")
            if not labels or "certificate" in labels:
                out[key] = sample.value
    return out

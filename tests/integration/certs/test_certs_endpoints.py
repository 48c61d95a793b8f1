"""Real TLS listeners (Python ssl) serving generated certificates, probed by the exporter:
each case gets its verification reason and its dates, misbehaving servers cost at most their
timeout and get a probe reason, and one bad target never hides the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certpki import DAY, Drip, Garbage, Hang, Pki, Reset, TlsServer, closed_port, issue, write_chain

from napops.certs.probe import Prober, ProbeResult

pytestmark = pytest.mark.integration
TIMEOUT = 1.5


def section(trust: Path, endpoints: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {
        "timeout_seconds": TIMEOUT,
        "concurrency": 8,
        "trust_store": [str(trust)],
        "acme_issuers": ["^napops test intermediate$"],
        "endpoints": endpoints,
        "files": [],
        **kw,
    }


def by_target(results: list[ProbeResult]) -> dict[str, ProbeResult]:
    return {r.target: r for r in results}


@pytest.fixture(scope="module")
def servers(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TlsServer]]:
    d = tmp_path_factory.mktemp("served")
    leaves = {
        "valid": (pki.leaf("localhost"), pki.inter),
        "expiring": (pki.leaf("localhost", not_after=5 * DAY), pki.inter),
        "expired": (pki.leaf("localhost", not_before=-90 * DAY, not_after=-2 * DAY), pki.inter),
        "not_yet_valid": (pki.leaf("localhost", not_before=3 * DAY), pki.inter),
        "wrong_host": (pki.leaf("elsewhere.example.test"), pki.inter),
        "self_signed": (issue("localhost", names=["localhost"]), None),
        "expired_intermediate": (
            issue("localhost", pki.old_inter, names=["localhost"]),
            pki.old_inter,
        ),
    }
    out: dict[str, TlsServer] = {}
    for name, (leaf, inter) in leaves.items():
        cert, key = write_chain(d, name, leaf, *([inter] if inter else []))
        out[name] = TlsServer(cert, key)
    yield out
    for s in out.values():
        s.close()


def test_each_certificate_gets_its_reason_and_its_dates(
    servers: dict[str, TlsServer], trust: Path
) -> None:
    prober = Prober(section(trust, [{"target": s.target} for s in servers.values()]))
    results = by_target(prober.round().results)
    now = time.time()
    got = {}
    for case, server in servers.items():
        r = results[server.target]
        assert r.success, (case, r.reason, r.detail)
        (cert,) = r.certs
        got[case] = cert.verification
        assert cert.info.subject_cn in ("localhost", "elsewhere.example.test")
        assert cert.info.serial and int(cert.info.serial, 16) > 0
    assert got == {
        "valid": "ok",
        "expiring": "ok",
        "expired": "expired",
        "not_yet_valid": "not_yet_valid",
        "wrong_host": "hostname_mismatch",
        "self_signed": "self_signed",
        "expired_intermediate": "expired_intermediate",
    }
    expired = results[servers["expired"].target].certs[0]
    assert -3 * 86400 < expired.info.seconds_left(now) < -86400, "expired still has its dates"
    expiring = results[servers["expiring"].target].certs[0]
    assert 4 * 86400 < expiring.info.seconds_left(now) < 5 * 86400
    assert expiring.acme and expiring.info.issuer_cn == "napops test intermediate"


def test_sni_selects_the_certificate(pki: Pki, trust: Path, tmp_path: Path) -> None:
    default = write_chain(tmp_path, "default", pki.leaf("default.example.test"), pki.inter)
    dms = write_chain(tmp_path, "dms", pki.leaf("dms.example.test"), pki.inter)
    git = write_chain(tmp_path, "git", pki.leaf("git.example.test"), pki.inter)
    server = TlsServer(*default, by_name={"dms.example.test": dms, "git.example.test": git})
    try:
        target = f"127.0.0.1:{server.port}"
        prober = Prober(
            section(
                trust,
                [
                    {"target": target, "server_name": "dms.example.test"},
                    {"target": f"localhost:{server.port}", "server_name": "git.example.test"},
                ],
            )
        )
        results = prober.round().results
        assert [r.certs[0].info.subject_cn for r in results] == [
            "dms.example.test",
            "git.example.test",
        ]
        assert [r.certs[0].verification for r in results] == ["ok", "ok"]
        assert sorted(server.seen_sni) == ["dms.example.test", "git.example.test"]
    finally:
        server.close()


def test_misbehaving_targets_fail_within_their_timeout(
    servers: dict[str, TlsServer], trust: Path
) -> None:
    bad = {"hang": Hang(), "reset": Reset(), "garbage": Garbage(), "drip": Drip()}
    try:
        endpoints = [{"target": s.target} for s in bad.values()]
        endpoints.append({"target": f"localhost:{closed_port()}"})
        endpoints.append({"target": servers["valid"].target})
        prober = Prober(section(trust, endpoints))
        results = prober.round().results
        reasons = [r.reason for r in results]
        assert reasons == [
            "timeout",
            "connection_reset",
            "not_tls",
            "timeout",
            "connection_refused",
            "ok",
        ], [(r.reason, r.detail) for r in results]
        for r in results:
            # the cost of a bad target is bounded by its timeout (plus scheduling slack)
            assert r.duration < TIMEOUT + 1.0, (r.target, r.reason, r.duration)
        assert results[-1].certs[0].verification == "ok", "a good target among bad ones"
    finally:
        for s in bad.values():
            s.close()


def test_trust_store_decides(servers: dict[str, TlsServer], tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(issue("another root", ca=True).pem())
    prober = Prober(section(other, [{"target": servers["valid"].target}]))
    (r,) = prober.round().results
    assert r.certs[0].verification == "unknown_issuer"


def test_a_failed_probe_keeps_the_last_certificate(pki: Pki, trust: Path, tmp_path: Path) -> None:
    server = TlsServer(*write_chain(tmp_path, "s", pki.leaf("localhost"), pki.inter))
    prober = Prober(section(trust, [{"target": server.target}]))
    (first,) = prober.round().results
    server.close()
    (second,) = prober.round().results
    assert second.reason == "connection_refused"
    assert second.certs == first.certs, "expiry must not vanish while the target is down"


def test_an_ipv6_target_with_its_name(pki: Pki, trust: Path, tmp_path: Path) -> None:
    server = TlsServer(
        *write_chain(tmp_path, "v6", pki.leaf("v6.example.test"), pki.inter), host="::1"
    )
    try:
        good, unbracketed = (
            Prober(
                section(
                    trust,
                    [
                        {"target": f"[::1]:{server.port}", "server_name": "v6.example.test"},
                        {"target": f"::1:{server.port}", "server_name": "v6.example.test"},
                    ],
                )
            )
            .round()
            .results
        )
    finally:
        server.close()
    assert good.success and good.certs[0].verification == "ok", good.detail
    assert good.target == f"[::1]:{server.port}/v6.example.test"
    assert unbracketed.reason == "ipv6_unbracketed"

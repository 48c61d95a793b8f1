"""The exposition: series built from a cached round (expired certificates keep their dates,
failed probes their reason), formatted once per round and joined to the sidecar's others."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from napops.certs.inspect import CertInfo
from napops.certs.metrics import Exposition
from napops.certs.probe import Cache, CertResult, ProbeResult, Round
from napops.core.metrics import register_build_info

T0 = 1_800_000_000.0


def round_of(expiry_days: float) -> Round:
    info = CertInfo(T0 - 86400, T0 + expiry_days * 86400, "dms.example.test", "R11", "AB")
    ok = ProbeResult("dms:443", "endpoint", "ok", "", 0.2, T0, (CertResult(info, "expired", True),))
    bad = ProbeResult("/x.pem", "file", "pem_garbage", "no PEM", 0.0, T0)
    return Round([ok, bad], started=T0, duration=1.0)


def parse(text: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def exposition_of(cache: Cache) -> Exposition:
    registry = CollectorRegistry()
    register_build_info(registry, "certs")
    return Exposition(registry, cache)


def test_series_of_a_round() -> None:
    cache = Cache()
    cache.put(round_of(-2))
    got = parse(exposition_of(cache).render())
    assert len(got["napops_build_info"]) == 1
    ((labels, expiry),) = got["napops_certs_expiry_seconds"]
    assert expiry == -2 * 86400 - 1.0  # as of the end of the round
    assert labels == {
        "target": "dms:443",
        "kind": "endpoint",
        "subject_cn": "dms.example.test",
        "issuer_cn": "R11",
        "serial": "AB",
        "acme": "true",
    }
    assert got["napops_certs_verification_ok"] == [({**labels, "reason": "expired"}, 0.0)]
    success = {lb["target"]: (lb["reason"], v) for lb, v in got["napops_certs_probe_success"]}
    assert success == {"dms:443": ("ok", 1.0), "/x.pem": ("pem_garbage", 0.0)}


def test_a_new_round_replaces_the_formatted_text() -> None:
    cache = Cache()
    exposition = exposition_of(cache)
    before = exposition.render().decode()
    assert "# TYPE napops_certs_expiry_seconds gauge" in before  # declared before any round
    assert "napops_certs_expiry_seconds{" not in before
    cache.put(round_of(30))
    first = parse(exposition.render())["napops_certs_expiry_seconds"][0][1]
    cache.put(round_of(10))
    second = parse(exposition.render())["napops_certs_expiry_seconds"][0][1]
    assert (first, second) == (30 * 86400 - 1.0, 10 * 86400 - 1.0)


def test_a_scrape_formats_no_certificate_series() -> None:
    """The round's series are formatted when the round is put, not when scraped: a scrape
    between rounds returns the same bytes without calling families() again."""
    import gzip

    import napops.certs.metrics as metrics

    cache = Cache()
    cache.put(round_of(30))
    exposition = exposition_of(cache)
    calls = []
    real = metrics.families
    metrics.families = lambda rnd: calls.append(rnd) or real(rnd)  # type: ignore[assignment]
    try:
        bodies = [exposition.render(True) for _ in range(3)]
        assert calls == []
        cache.put(round_of(10))
        assert len(calls) == 1
        exposition.render(True)
        assert len(calls) == 1
    finally:
        metrics.families = real  # type: ignore[assignment]
    assert gzip.decompress(bodies[0]) == gzip.decompress(bodies[2])


def test_the_compressed_body_is_the_same_text() -> None:
    import gzip

    cache = Cache()
    cache.put(round_of(5))
    exposition = exposition_of(cache)
    assert gzip.decompress(exposition.render(True)) == exposition.render(False)

"""Verification reasons for generated chains (no network): each case gets its own reason."""

from __future__ import annotations

import time

import pytest
from certpki import DAY, Pki, issue

from napops.certs.verify import REASONS, TrustStore, matches_name, verify


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="module")
def store(pki: Pki) -> TrustStore:
    return TrustStore.from_pem([pki.root.pem()])


def test_valid_chain_is_ok(pki: Pki, store: TrustStore) -> None:
    leaf = pki.leaf("dms.example.test")
    assert verify([leaf.cert, pki.inter.cert], store, time.time(), "dms.example.test") == "ok"


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"not_before": -90 * DAY, "not_after": -1 * DAY}, "expired"),
        ({"not_before": 2 * DAY, "not_after": 90 * DAY}, "not_yet_valid"),
    ],
)
def test_leaf_dates(pki: Pki, store: TrustStore, kw: dict[str, object], reason: str) -> None:
    leaf = pki.leaf("dms.example.test", **kw)
    assert verify([leaf.cert, pki.inter.cert], store, time.time(), "dms.example.test") == reason


def test_wrong_host(pki: Pki, store: TrustStore) -> None:
    leaf = pki.leaf("git.example.test")
    got = verify([leaf.cert, pki.inter.cert], store, time.time(), "dms.example.test")
    assert got == "hostname_mismatch"


def test_self_signed_and_untrusted(pki: Pki, store: TrustStore) -> None:
    own = issue("dms.example.test", names=["dms.example.test"])
    assert verify([own.cert], store, time.time(), "dms.example.test") == "self_signed"
    other_root = issue("another root", ca=True)
    leaf = issue("dms.example.test", other_root, names=["dms.example.test"])
    assert verify([leaf.cert], store, time.time(), "dms.example.test") == "unknown_issuer"


def test_missing_intermediate_is_unknown_issuer(pki: Pki, store: TrustStore) -> None:
    leaf = pki.leaf("dms.example.test")
    assert verify([leaf.cert], store, time.time(), "dms.example.test") == "unknown_issuer"


def test_expired_intermediate(pki: Pki, store: TrustStore) -> None:
    leaf = issue("dms.example.test", pki.old_inter, names=["dms.example.test"])
    got = verify([leaf.cert, pki.old_inter.cert], store, time.time(), "dms.example.test")
    assert got == "expired_intermediate"


def test_forged_issuer_name_is_bad_signature(pki: Pki, store: TrustStore) -> None:
    # same subject as the real intermediate, another key
    fake_inter = issue("napops test intermediate", ca=True)
    leaf = issue("dms.example.test", fake_inter, names=["dms.example.test"])
    got = verify([leaf.cert, pki.inter.cert], store, time.time(), "dms.example.test")
    assert got == "bad_signature"


def test_trusted_root_itself_is_ok(pki: Pki, store: TrustStore) -> None:
    assert verify([pki.root.cert], store, time.time(), None) == "ok"


def test_reasons_are_a_closed_set(pki: Pki, store: TrustStore) -> None:
    leaf = pki.leaf("x.example.test")
    assert verify([leaf.cert], TrustStore(), time.time(), None) in REASONS


def test_name_matching() -> None:
    wild = issue("*.example.test", names=["*.example.test", "127.0.0.1"])
    assert matches_name(wild.cert, "dms.example.test")
    assert not matches_name(wild.cert, "a.b.example.test")
    assert not matches_name(wild.cert, "example.test")
    assert matches_name(wild.cert, "127.0.0.1")
    assert not matches_name(wild.cert, "127.0.0.2")

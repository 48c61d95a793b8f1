"""Verification of a certificate chain against a trust store, with a closed set of reasons.

The checks run in a fixed order and the first that fails names the result, so one chain
always gets the same reason: ``expired`` / ``not_yet_valid`` (the leaf), ``self_signed`` (an
untrusted leaf that signed itself), ``unknown_issuer`` (no path to a trusted root through the
presented intermediates), ``expired_intermediate`` (a certificate on that path, other than
the leaf, is outside its validity), ``hostname_mismatch`` (the leaf is not valid for the
name asked for), ``bad_signature`` (an issuer found by name did not sign it), else ``ok``.
A certificate that is itself in the trust store is trusted as is.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

REASONS = (
    "ok",
    "expired",
    "not_yet_valid",
    "self_signed",
    "unknown_issuer",
    "expired_intermediate",
    "hostname_mismatch",
    "bad_signature",
)
MAX_DEPTH = 8


class TrustStore:
    """Trusted roots, looked up by subject name (indexed once: a round verifies hundreds of
    chains against a bundle of ~150 roots)."""

    def __init__(self, roots: Sequence[x509.Certificate] = ()):
        self.roots = list(roots)
        self._der = {r.public_bytes(serialization.Encoding.DER) for r in self.roots}
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for r in self.roots:
            self._by_subject.setdefault(r.subject.public_bytes(), []).append(r)

    @classmethod
    def from_pem(cls, blobs: Iterable[bytes]) -> TrustStore:
        roots: list[x509.Certificate] = []
        with warnings.catch_warnings():  # old CA bundles hold a negative serial or two
            warnings.simplefilter("ignore")
            for blob in blobs:
                roots += x509.load_pem_x509_certificates(blob)
        return cls(roots)

    def contains(self, cert: x509.Certificate) -> bool:
        return cert.public_bytes(serialization.Encoding.DER) in self._der

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return self._by_subject.get(cert.issuer.public_bytes(), [])


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure: not its issuer
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and _signed_by(cert, cert)


def _in_validity(cert: x509.Certificate, now: float) -> bool:
    return cert.not_valid_before_utc.timestamp() <= now <= cert.not_valid_after_utc.timestamp()


def _path(
    leaf: x509.Certificate, pool: Sequence[x509.Certificate], store: TrustStore
) -> tuple[list[x509.Certificate], str]:
    """The chain from ``leaf`` up to a trusted root (root included), or the reason there is
    none (``unknown_issuer`` or ``bad_signature``)."""
    chain = [leaf]
    cert = leaf
    for _ in range(MAX_DEPTH):
        if store.contains(cert):
            return chain, "ok"
        trusted = [r for r in store.issuers_of(cert) if _signed_by(cert, r)]
        if trusted:
            return [*chain, trusted[0]], "ok"
        named = [c for c in pool if c.subject == cert.issuer and c not in chain]
        nxt = next((c for c in named if _signed_by(cert, c)), None)
        if nxt is None:
            by_name = named or store.issuers_of(cert)
            return chain, "bad_signature" if by_name else "unknown_issuer"
        chain.append(nxt)
        cert = nxt
    return chain, "unknown_issuer"


def matches_name(cert: x509.Certificate, name: str) -> bool:
    """RFC 6125 matching of ``name`` against the SAN (DNS with a left-most wildcard, IP)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return ip in san.get_values_for_type(x509.IPAddress)
    want = name.lower().rstrip(".")
    for pattern in san.get_values_for_type(x509.DNSName):
        pat = pattern.lower().rstrip(".")
        if pat == want:
            return True
        if pat.startswith("*.") and "." in want:
            head, rest = want.split(".", 1)
            if head and rest == pat[2:]:
                return True
    return False


def verify(
    chain: Sequence[x509.Certificate],
    store: TrustStore,
    now: float,
    server_name: str | None = None,
) -> str:
    """The reason (one of :data:`REASONS`) for ``chain`` (leaf first, then what the server
    or file presented) checked against ``store`` at time ``now`` for ``server_name``."""
    leaf = chain[0]
    if now > leaf.not_valid_after_utc.timestamp():
        return "expired"
    if now < leaf.not_valid_before_utc.timestamp():
        return "not_yet_valid"
    path, problem = _path(leaf, chain[1:], store)
    if problem != "ok":
        if _self_signed(leaf) and not store.contains(leaf):
            return "self_signed"
        return problem
    if any(not _in_validity(c, now) for c in path[1:]):
        return "expired_intermediate"
    if server_name is not None and not matches_name(leaf, server_name):
        return "hostname_mismatch"
    return "ok"

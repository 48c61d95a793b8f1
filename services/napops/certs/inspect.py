"""What a certificate says about itself: dates, names, serial. Pure: bytes in, facts out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertInfo:
    """One certificate's facts, as exported (times in seconds since the epoch)."""

    not_before: float
    not_after: float
    subject_cn: str
    issuer_cn: str
    serial: str  # hex, upper case, as openssl prints it

    def seconds_left(self, now: float) -> float:
        return self.not_after - now

    def as_dict(self) -> dict[str, object]:
        return {
            "not_before": self.not_before,
            "not_after": self.not_after,
            "subject_cn": self.subject_cn,
            "issuer_cn": self.issuer_cn,
            "serial": self.serial,
        }


def common_name(name: x509.Name) -> str:
    """The first CN of ``name``, or its whole RFC 4514 text when it has none."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if values:
        return str(values[0].value)
    return name.rfc4514_string()


def info(cert: x509.Certificate) -> CertInfo:
    with warnings.catch_warnings():  # a negative serial (old CA bundles) is still reported
        warnings.simplefilter("ignore")
        serial = cert.serial_number
    return CertInfo(
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
        subject_cn=common_name(cert.subject),
        issuer_cn=common_name(cert.issuer),
        serial=format(serial, "X"),
    )

"""Target parsing and PEM files: every bad input has its own reason, the others go on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from certpki import Pki
from cryptography.hazmat.primitives import serialization

from napops.certs.sources import FileTargets, SourceError, endpoint_targets, read_file

SECTION = {"timeout_seconds": 5}


def reasons(section: dict[str, object]) -> dict[str, str | None]:
    targets = endpoint_targets({**SECTION, **section})
    return {t.name: t.problem.reason if t.problem else None for t in targets}


def test_endpoint_problems_are_per_target() -> None:
    got = reasons(
        {
            "endpoints": [
                {"target": "dms.example.test:443"},
                {"target": "10.0.0.5:443"},
                {"target": "10.0.0.6:443", "server_name": "git.example.test"},
                {"target": "2001:db8::1:443"},
                {"target": "[2001:db8::1]:443", "server_name": "v6.example.test"},
                {"target": "dms.example.test:443"},
                {"target": "nohostport"},
                {"target": "dms.example.test:99999"},
            ]
        }
    )
    assert got == {
        "dms.example.test:443": None,
        "10.0.0.5:443": "ip_without_sni",
        "10.0.0.6:443/git.example.test": None,
        "2001:db8::1:443": "ipv6_unbracketed",
        "[2001:db8::1]:443/v6.example.test": None,
        "dms.example.test:443 #2": "duplicate_target",
        "nohostport": "invalid_target",
        "dms.example.test:99999": "invalid_target",
    }


def test_server_name_defaults_to_host() -> None:
    (t,) = endpoint_targets({**SECTION, "endpoints": [{"target": "dms.example.test:443"}]})
    assert (t.host, t.port, t.server_name) == ("dms.example.test", 443, "dms.example.test")


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def reason_of(path: Path, contents: str = "certificate") -> str:
    with pytest.raises(SourceError) as err:
        read_file(str(path), contents)
    return err.value.reason


def test_bad_files(tmp_path: Path, pki: Pki) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    noise = tmp_path / "noise.pem"
    noise.write_bytes(os.urandom(300))
    der = tmp_path / "cert.der"
    der.write_bytes(pki.root.cert.public_bytes(serialization.Encoding.DER))
    several = tmp_path / "fullchain.pem"
    leaf = pki.leaf("dms.example.test")
    several.write_bytes(leaf.pem() + pki.inter.pem())
    assert reason_of(garbage) == "pem_garbage"
    assert reason_of(noise) == "pem_garbage"
    assert reason_of(der) == "der_not_pem"
    assert reason_of(several) == "pem_several_certificates"
    assert reason_of(tmp_path / "gone.pem") == "file_missing"
    assert reason_of(tmp_path) == "file_unreadable"
    assert len(read_file(str(several), "chain")) == 2
    assert len(read_file(str(several), "bundle")) == 2


def test_unreadable_file(tmp_path: Path, pki: Pki) -> None:
    path = tmp_path / "secret.pem"
    path.write_bytes(pki.root.pem())
    path.chmod(0)
    tmp_path.chmod(0o755)
    if os.geteuid() != 0:
        assert reason_of(path) == "file_unreadable"
        return
    os.seteuid(65534)  # root reads anything: read as nobody, as the sidecar's user would
    try:
        assert reason_of(path) == "file_unreadable"
    finally:
        os.seteuid(0)


def test_glob_remembers_a_vanished_file(tmp_path: Path, pki: Pki) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cert.pem").write_bytes(pki.leaf(f"{name}.example.test").pem())
    files = FileTargets({**SECTION, "files": [{"path": str(tmp_path / "*" / "cert.pem")}]})
    assert [Path(t.name).parent.name for t in files.current()] == ["a", "b"]
    (tmp_path / "b" / "cert.pem").unlink()
    names = [t.name for t in files.current()]
    assert len(names) == 2, "the vanished file must stay visible"
    with pytest.raises(SourceError) as err:
        read_file(names[1])
    assert err.value.reason == "file_missing"


def test_glob_without_match(tmp_path: Path) -> None:
    files = FileTargets({**SECTION, "files": [{"path": str(tmp_path / "*.pem")}]})
    (t,) = files.current()
    assert t.problem is not None and t.problem.reason == "glob_no_match"

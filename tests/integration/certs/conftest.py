"""Fixtures of the certs integration tests: one PKI and its trust store per module."""

from __future__ import annotations

from pathlib import Path

import pytest
from certpki import Pki


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="module")
def trust(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pki.write_trust(tmp_path_factory.mktemp("trust") / "roots.pem")

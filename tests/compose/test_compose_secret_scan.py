"""No secret-looking value in the repository or in any rendered configuration.

The repository is every git-tracked file plus untracked files that are not ignored (so a
secret about to be committed is caught too). Compose secrets live in gitignored files
(compose/secrets/<env>/) and are therefore never scanned: that is the design.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from compose_render import ENVS, STACKS, render
from secret_scan import Finding, scan_file, scan_model

from helpers import ROOT, require_docker, require_tool


def repository_files() -> list[str]:
    require_tool("git")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return sorted({p for p in out.decode().split("\0") if p})


def test_repository_has_no_secret_looking_values() -> None:
    findings: list[Finding] = []
    for rel in repository_files():
        path = ROOT / rel
        if path.is_file() and path.stat().st_size < 2_000_000:
            findings += scan_file(path, rel)
    assert not findings, "secret-looking values:\n" + "\n".join(map(str, findings))


def in_repository(model: Any) -> Any:
    """The model with the checkout's path written as `<repository>`: Compose makes file paths
    absolute, and a checkout's path (a CI's random folder, `ci-run10`) is no secret but can
    look random enough to be found."""
    if isinstance(model, dict):
        return {k: in_repository(v) for k, v in model.items()}
    if isinstance(model, list):
        return [in_repository(v) for v in model]
    return model.replace(str(ROOT), "<repository>") if isinstance(model, str) else model


@pytest.mark.parametrize("env", ENVS)
def test_rendered_configuration_has_no_secret_looking_values(env: str) -> None:
    require_docker()
    findings = [
        f
        for stack in STACKS
        for f in scan_model(f"{stack}({env})", in_repository(render(stack, env)))
    ]
    assert not findings, "secret-looking values:\n" + "\n".join(map(str, findings))


# --- the scanner catches what it must, and only that --------------------------------------


def planted_repository(tmp_path: Path) -> dict[str, str]:
    """Files with one planted secret each (random, made here), keyed by relative name."""
    key_header = "-----BEGIN RSA " + "PRIVATE KEY-----"
    files = {
        "compose/env/prod/apps.env": f"DB_PASSWORD={secrets.token_urlsafe(18)}\n",
        "compose/stacks/leak.yml": (
            "services:\n  app:\n    environment:\n"
            f"      SMTP_URL: smtp://mailer:{secrets.token_hex(8)}@mail.np-dms.work:587\n"
        ),
        "keys/tls.key": f"{key_header}\nMIIEow...\n",
        "config/app.yml": f"webhook:\n  url_suffix: {secrets.token_urlsafe(32)}\n",
        "services/tool.py": f"TOKEN = 'ghp_{'A1b2C3d4E5' * 4}'\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return files


def test_scanner_catches_planted_secrets(tmp_path: Path) -> None:
    for rel in planted_repository(tmp_path):
        assert scan_file(tmp_path / rel, rel), f"planted secret in {rel} was not caught"


def test_scanner_catches_a_password_in_a_rendered_environment() -> None:
    model = {"services": {"db": {"environment": {"MARIADB_ROOT_PASSWORD": "hunter2-but-longer"}}}}
    assert [f.reason for f in scan_model("x", model)] == [
        "secret-named environment variable with a value"
    ]


def test_scanner_leaves_references_and_secret_files_alone(tmp_path: Path) -> None:
    clean = tmp_path / "stack.yml"
    clean.write_text(
        "services:\n  db:\n    environment:\n"
        "      MARIADB_ROOT_PASSWORD_FILE: /run/secrets/mariadb_root_password\n"
        "      GITEA__database__PASSWD__FILE: /run/secrets/gitea_db_password\n"
        "      DB_PASSWORD: ${DB_PASSWORD:?set it}\n"
        "      REDIS_URL: redis://redis:6379\n"
        "    image: nginx@sha256:" + "0123456789abcdef" * 4 + "\n"
        "secrets:\n  napdms_jwt_secret:\n    file: ../secrets/${NAPOPS_ENV}/napdms_jwt_secret\n"
    )
    assert scan_file(clean, "stack.yml") == []
    model = {"services": {"db": {"environment": {"DB_PASSWORD_FILE": "/run/secrets/x"}}}}
    assert list(scan_model("x", model)) == []


def test_samples_are_exempt_from_entropy_but_not_from_keys_and_tokens(tmp_path: Path) -> None:
    sample = tmp_path / "push.json"
    real = (ROOT / "tests/fixtures/gitea/push.json").read_text(encoding="utf-8")
    sample.write_text(real.splitlines()[4] + "\n")  # compare_url: two commit ids
    assert scan_file(sample, "tests/fixtures/gitea/push.json") == []
    assert scan_file(sample, "compose/config/push.json"), "the same text in config is flagged"
    token = "gh" + "p_" + secrets.token_hex(20)
    sample.write_text(f'{{"note": "{token}"}}')
    assert scan_file(sample, "tests/fixtures/gitea/push.json"), "a token in a sample is caught"

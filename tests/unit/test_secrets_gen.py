"""compose/bin/secrets-gen: creates missing secrets (0600, random), never overwrites one, and
finds the secrets in the compose files themselves. Runs the real script against a scratch
compose folder rendered by the real `docker compose config` (no engine needed)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT, require_tool

SCRIPT = ROOT / "compose" / "bin" / "secrets-gen"

STACK_A = """\
services:
  app:
    image: busybox
    user: "65532:65532"
    secrets: [db_password, hook_url]
  admin:
    image: busybox
    user: "472:0"
    secrets: [admin_password]
secrets:
  db_password:
    file: ../secrets/${NAPOPS_ENV:?}/db_password
  hook_url:
    file: ../secrets/${NAPOPS_ENV:?}/hook_url
  admin_password:
    file: ../secrets/${NAPOPS_ENV:?}/admin_password
  # not ours to create: outside compose/secrets/<env>/, or not a file at all
  elsewhere: {file: /etc/hostname}
  from_env: {environment: HOME}
"""


@pytest.fixture
def compose_dir(tmp_path: Path) -> Path:
    require_tool("docker")
    for env in ("dev", "prod"):
        (tmp_path / "env" / env).mkdir(parents=True)
        (tmp_path / "env" / env / "a.env").write_text(f"NAPOPS_ENV={env}\n")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "a.yml").write_text(STACK_A)
    return tmp_path


def run(compose_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NAPOPS_ENV"}
    return subprocess.run(
        [str(SCRIPT), "--compose-dir", str(compose_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_creates_each_missing_secret_with_0600_and_a_strong_random_value(
    compose_dir: Path,
) -> None:
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 0, proc.stderr
    folder = compose_dir / "secrets" / "dev"
    assert sorted(p.name for p in folder.iterdir()) == ["admin_password", "db_password", "hook_url"]
    values = set()
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        values.add(path.read_text())
    assert len(values) == 3  # independent values
    password = (folder / "db_password").read_text()
    assert len(password) >= 43 and "\n" not in password  # 256 bits, url-safe base64
    # a URL secret gets a placeholder that can never reach another host
    assert (folder / "hook_url").read_text().startswith("http://127.0.0.1:9/replace-me/hook_url/")
    assert not (compose_dir / "secrets" / "prod").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")
def test_new_secret_belongs_to_the_user_its_services_run_as(compose_dir: Path) -> None:
    assert run(compose_dir, "--env", "dev").returncode == 0
    folder = compose_dir / "secrets" / "dev"
    st = (folder / "db_password").stat()
    assert (st.st_uid, st.st_gid) == (65532, 65532)
    st = (folder / "admin_password").stat()
    assert (st.st_uid, st.st_gid) == (472, 0)


def test_never_overwrites_an_existing_secret(compose_dir: Path) -> None:
    folder = compose_dir / "secrets" / "dev"
    folder.mkdir(parents=True)
    kept = folder / "db_password"
    kept.write_text("chosen-by-the-operator")
    kept.chmod(0o640)
    for _ in range(2):
        proc = run(compose_dir, "--env", "dev")
        assert proc.returncode == 0, proc.stderr
        assert "kept     db_password" in proc.stdout
    assert kept.read_text() == "chosen-by-the-operator"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    first = (folder / "hook_url").read_text()
    assert run(compose_dir, "--env", "dev").returncode == 0
    assert (folder / "hook_url").read_text() == first


def test_picks_up_a_secret_declared_by_a_new_stack(compose_dir: Path) -> None:
    (compose_dir / "stacks" / "b.yml").write_text(
        "services:\n  db:\n    image: busybox\n    secrets: [replica_key]\n"
        "secrets:\n  replica_key:\n    file: ../secrets/${NAPOPS_ENV:?}/replica_key\n"
    )
    dry = run(compose_dir, "--env", "prod", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "missing  replica_key for db" in dry.stdout
    assert not (compose_dir / "secrets" / "prod").exists()  # a dry run writes nothing
    assert run(compose_dir, "--env", "prod").returncode == 0
    assert (compose_dir / "secrets" / "prod" / "replica_key").is_file()
    assert not (compose_dir / "secrets" / "prod" / "elsewhere").exists()
    assert not (compose_dir / "secrets" / "prod" / "from_env").exists()


def test_a_stack_that_does_not_render_creates_nothing(compose_dir: Path) -> None:
    (compose_dir / "stacks" / "b.yml").write_text("services:\n  db:\n    image: [unclosed\n")
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 1
    assert "b.yml" in proc.stderr and "nothing created" in proc.stderr
    assert not (compose_dir / "secrets" / "dev").exists()


@pytest.mark.parametrize("env", ["../dev", "nope", ""])
def test_rejects_an_unknown_environment(compose_dir: Path, env: str) -> None:
    proc = run(compose_dir, "--env", env)
    assert proc.returncode == 2
    assert "environment" in proc.stderr
    assert not (compose_dir / "secrets").exists()


def test_the_repository_stacks_declare_the_secrets_the_sidecars_need() -> None:
    require_tool("docker")
    proc = subprocess.run(
        [str(SCRIPT), "--env", "dev", "--dry-run"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("audit_key", "relay_token", "smtp_password", "rocketchat_webhook_url"):
        assert f" {name} for " in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if " audit_key for " in x)
    assert all(s in line for s in ("relay", "certs", "deploy", "backup", "compliance"))
    line = next(x for x in proc.stdout.splitlines() if " relay_token for " in x)
    assert "alertmanager" in line and "relay" in line

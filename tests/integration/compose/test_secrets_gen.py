"""compose/bin/secrets-gen: creates missing secrets (0600, random), never overwrites one, gives
the copies of one value (`<name>`, `<name>.<reader>`) that one value, refuses files read by
different users, and finds the secrets in the compose files themselves. Runs the real script
against a scratch compose folder rendered by the real `docker compose config` (no engine
needed)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
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


# One value read by three users: the client's file, and a copy for each store.
STACK_COPIES = """\
services:
  client:
    image: busybox
    user: "65532:65532"
    secrets: [store_password]
  db:
    image: busybox
    user: "999:999"
    secrets: [{source: store_password.db, target: store_password}]
  cache:
    image: busybox
    user: "999:1000"
    secrets: [{source: store_password.cache, target: store_password}]
secrets:
  store_password:
    file: ../secrets/${NAPOPS_ENV:?}/store_password
  store_password.db:
    file: ../secrets/${NAPOPS_ENV:?}/store_password.db
  store_password.cache:
    file: ../secrets/${NAPOPS_ENV:?}/store_password.cache
"""
COPIES = ("store_password", "store_password.cache", "store_password.db")


@pytest.fixture
def with_copies(compose_dir: Path) -> Path:
    """The scratch compose folder with a copy group; returns its dev secrets folder."""
    (compose_dir / "stacks" / "b.yml").write_text(STACK_COPIES)
    return compose_dir / "secrets" / "dev"


def test_copies_get_one_fresh_value(compose_dir: Path, with_copies: Path) -> None:
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 0, proc.stderr
    values = {name: (with_copies / name).read_text() for name in COPIES}
    assert len(set(values.values())) == 1, values
    value = values["store_password"]
    assert len(value) >= 43 and value != (with_copies / "db_password").read_text()
    for name in COPIES:
        assert stat.S_IMODE((with_copies / name).stat().st_mode) == 0o600
    assert "store_password: one value in 3 files" in proc.stdout
    assert "    created  store_password.db (0600" in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")
def test_each_copy_belongs_to_its_own_readers(compose_dir: Path, with_copies: Path) -> None:
    assert run(compose_dir, "--env", "dev").returncode == 0
    owners = {n: (with_copies / n).stat() for n in COPIES}
    assert {n: (st.st_uid, st.st_gid) for n, st in owners.items()} == {
        "store_password": (65532, 65532),
        "store_password.db": (999, 999),
        "store_password.cache": (999, 1000),
    }


@pytest.mark.parametrize("existing", COPIES)
def test_a_missing_copy_gets_the_value_of_the_existing_one(
    compose_dir: Path, with_copies: Path, existing: str
) -> None:
    with_copies.mkdir(parents=True)
    kept = with_copies / existing
    kept.write_text("chosen-by-the-operator")
    kept.chmod(0o640)
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 0, proc.stderr
    assert f"missing ones get the value of {existing}" in proc.stdout
    for name in COPIES:
        assert (with_copies / name).read_text() == "chosen-by-the-operator"
        if name != existing:
            assert stat.S_IMODE((with_copies / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640  # never re-permissioned
    # a second run changes nothing
    again = run(compose_dir, "--env", "dev")
    assert again.returncode == 0, again.stderr
    assert all(f"kept     {name}" in again.stdout for name in COPIES)
    assert {(with_copies / n).read_text() for n in COPIES} == {"chosen-by-the-operator"}


def test_copies_that_differ_are_reported_and_not_completed(
    compose_dir: Path, with_copies: Path
) -> None:
    with_copies.mkdir(parents=True)
    (with_copies / "store_password").write_text("new-value")
    (with_copies / "store_password.db").write_text("old-value")
    dry = run(compose_dir, "--env", "dev", "--dry-run")
    assert dry.returncode == 1
    assert "store_password: one value in 3 files; see the problem below" in dry.stdout
    assert "    missing  store_password.cache for cache (999:1000)" in dry.stdout
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 1
    for out in (dry.stderr, proc.stderr):
        assert "copies of store_password hold different values" in out
        assert "(store_password vs store_password.db)" in out
    assert "skipped  store_password.cache" in proc.stdout
    assert not (with_copies / "store_password.cache").exists()  # which value would it get?
    assert (with_copies / "store_password").read_text() == "new-value"
    assert (with_copies / "store_password.db").read_text() == "old-value"
    assert (with_copies / "db_password").is_file()  # the other secrets are still created


def test_readers_with_different_users_stop_before_anything_is_created(
    compose_dir: Path,
) -> None:
    (compose_dir / "stacks" / "b.yml").write_text(
        STACK_COPIES.replace("source: store_password.db", "source: store_password")
    )
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 1
    assert "Permission denied" in proc.stderr and "nothing created" in proc.stderr
    assert "store_password is read by client (65532:65532); db (999:999)" in proc.stderr
    assert "store_password.cache" not in proc.stderr
    assert "compose/secrets/README.md" in proc.stderr
    assert not (compose_dir / "secrets" / "dev").exists()
    dry = run(compose_dir, "--env", "dev", "--dry-run")
    assert dry.returncode == 1
    assert "store_password is read by client (65532:65532); db (999:999)" in dry.stderr
    assert "    missing  store_password for client (65532:65532); db (999:999)" in dry.stdout
    assert not (compose_dir / "secrets" / "dev").exists()


def test_dry_run_lists_each_group_with_its_copies(compose_dir: Path, with_copies: Path) -> None:
    dry = run(compose_dir, "--env", "dev", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    start = lines.index("  store_password: one value in 3 files; none yet: a new one")
    assert lines[start + 1 : start + 4] == [
        "    missing  store_password for client (65532:65532)",
        "    missing  store_password.cache for cache (999:1000)",
        "    missing  store_password.db for db (999:999)",
    ]
    assert "  missing  db_password for app (65532:65532)" in lines  # not a group: one line
    assert not with_copies.exists()


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


def test_a_directory_where_a_secret_belongs_is_a_clear_error(
    compose_dir: Path, with_copies: Path
) -> None:
    (with_copies / "store_password.db").mkdir(parents=True)
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 1
    assert "store_password.db: Is a directory" in proc.stderr and "Traceback" not in proc.stderr
    # its group is left alone; the other secrets are created
    assert not (with_copies / "store_password").exists()
    assert (with_copies / "db_password").is_file()


def test_dotted_names_without_a_declared_base_are_separate_secrets(compose_dir: Path) -> None:
    (compose_dir / "stacks" / "b.yml").write_text(
        "services:\n  web:\n    image: busybox\n    user: '101:101'\n"
        "    secrets: [tls.key, tls.crt]\n"
        "secrets:\n  tls.key:\n    file: ../secrets/${NAPOPS_ENV:?}/tls.key\n"
        "  tls.crt:\n    file: ../secrets/${NAPOPS_ENV:?}/tls.crt\n"
    )
    assert run(compose_dir, "--env", "dev").returncode == 0
    folder = compose_dir / "secrets" / "dev"
    assert (folder / "tls.key").read_text() != (folder / "tls.crt").read_text()


def test_without_docker_it_says_so(compose_dir: Path) -> None:
    env = {"PATH": "/nonexistent", "HOME": os.environ.get("HOME", "/")}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--compose-dir", str(compose_dir), "--env", "dev"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "cannot run `docker compose`" in proc.stderr and "Traceback" not in proc.stderr
    assert not (compose_dir / "secrets").exists()


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
    for name in ("audit_key", "relay_token", "smtp_password"):
        assert f" {name} for " in proc.stdout
    # dev's Rocket.Chat webhook is the dev sink's committed URL, not a generated placeholder
    assert "rocketchat_webhook_url" not in proc.stdout
    prod = subprocess.run(
        [str(SCRIPT), "--env", "prod", "--dry-run", "--stacks", "napops"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert prod.returncode == 0 and " rocketchat_webhook_url for relay" in prod.stdout
    line = next(x for x in proc.stdout.splitlines() if " audit_key for " in x)
    assert all(s in line for s in ("relay", "certs", "deploy", "backup", "compliance"))
    line = next(x for x in proc.stdout.splitlines() if " relay_token for " in x)
    assert "alertmanager" in line and "relay" in line


TWO_STACKS = {
    "a.yml": STACK_A,
    "b.yml": """\
services:
  other:
    image: busybox
    secrets: [b_only]
secrets:
  b_only:
    file: ../secrets/${NAPOPS_ENV:?}/b_only
""",
}


def test_only_the_secrets_of_the_named_stacks_are_created(compose_dir: Path) -> None:
    (compose_dir / "env" / "dev" / "b.env").write_text("NAPOPS_ENV=dev\n")
    (compose_dir / "stacks" / "b.yml").write_text(TWO_STACKS["b.yml"])
    proc = run(compose_dir, "--env", "dev", "--stacks", "b")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (compose_dir / "secrets" / "dev").iterdir()] == ["b_only"]
    assert "stacks b" in proc.stdout
    bad = run(compose_dir, "--env", "dev", "--stacks", "b nope")
    assert bad.returncode == 2 and "unknown stack(s) nope" in bad.stderr


def test_make_up_creates_only_the_local_stacks_secrets() -> None:
    make = subprocess.run(
        ["make", "-n", "--no-print-directory", "up", "ENV=dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    sub = subprocess.run(
        ["make", "-n", "--no-print-directory", "secrets-local", "ENV=dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "secrets-local" in make.stdout
    assert 'secrets-gen --env dev --stacks "monitoring agents napops watch"' in sub.stdout


def read_as(uid: int, path: Path) -> subprocess.CompletedProcess[str]:
    setpriv = require_tool("setpriv")
    return subprocess.run(
        [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "cat", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files away and switching users need root")
def test_an_unprivileged_host_user_cannot_read_a_secret(compose_dir: Path, tmp_path: Path) -> None:
    # a folder every user can reach (pytest's own tmp folder is root's 0700, which would hide
    # the secrets whatever secrets-gen did), with a secrets folder left open by an earlier run
    import shutil
    import tempfile

    open_root = Path(tempfile.mkdtemp(prefix="newcomer-secrets-"))
    try:
        open_root.chmod(0o755)
        work = open_root / "compose"
        shutil.copytree(compose_dir, work)
        work.chmod(0o755)
        folder = work / "secrets" / "dev"
        folder.mkdir(parents=True)
        folder.chmod(0o755)
        (work / "secrets").chmod(0o755)
        # control: with the folder open, the host user with the container's uid reads it
        probe = folder / "probe"
        probe.write_text("x")
        os.chown(probe, 65532, 65532)
        probe.chmod(0o600)
        assert read_as(65532, probe).returncode == 0
        probe.unlink()
        proc = run(work, "--env", "dev")
        assert proc.returncode == 0, proc.stderr
        assert "closed" in proc.stdout and "mode 0755 -> 0700" in proc.stdout
        st = folder.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o700)
        secret = folder / "db_password"
        assert secret.stat().st_uid == 65532  # its container's user owns it ...
        denied = read_as(65532, secret)  # ... yet the host user with that uid cannot read it
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
    finally:
        shutil.rmtree(open_root)


STACK_KINDS = """\
services:
  car:
    image: busybox
    user: "65532:65532"
    environment: {HOME: /home/napops}
    secrets:
      - {source: car_ssh_key, target: /home/napops/.ssh/id_ed25519}
      - {source: engines_known_hosts, target: /home/napops/.ssh/known_hosts}
      - {source: car_docker_config, target: /home/napops/.docker/config.json}
secrets:
  car_ssh_key:
    file: ../secrets/${NAPOPS_ENV:?}/car_ssh_key
  engines_known_hosts:
    file: ../secrets/${NAPOPS_ENV:?}/engines_known_hosts
  car_docker_config:
    file: ../secrets/${NAPOPS_ENV:?}/car_docker_config
"""


def test_ssh_keys_known_hosts_and_docker_configs_get_values_of_their_kind(
    compose_dir: Path, tmp_path: Path
) -> None:
    require_tool("ssh-keygen")
    (compose_dir / "stacks" / "a.yml").write_text(STACK_KINDS)
    proc = run(compose_dir, "--env", "dev")
    assert proc.returncode == 0, proc.stderr
    folder = compose_dir / "secrets" / "dev"
    # a private key ssh-keygen reads; its public half is printed for authorized_keys
    public = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(folder / "car_ssh_key")], capture_output=True, text=True
    )
    assert public.returncode == 0, public.stderr
    assert public.stdout.startswith("ssh-ed25519 ")
    assert f"public key: {public.stdout.strip()}" in proc.stdout
    assert stat.S_IMODE((folder / "car_ssh_key").stat().st_mode) == 0o600
    # known_hosts trusts nothing until the operator writes the engine's key
    known = (folder / "engines_known_hosts").read_text()
    assert all(line.startswith("#") for line in known.splitlines()) and "ssh-keyscan" in known
    # a Docker client config without credentials
    assert json.loads((folder / "car_docker_config").read_text()) == {"auths": {}}
    # and a second run keeps the key
    again = run(compose_dir, "--env", "dev")
    assert again.returncode == 0 and "kept     car_ssh_key" in again.stdout


# --host: a box with a clone of its own makes only its stacks' secrets; one that two hosts read
# is made on the first host of hosts.yml that reads it and copied to the others

STACK_W = """\
services:
  watcher:
    image: busybox
    user: "65532:65532"
    secrets: [hook_url, w_only]
secrets:
  hook_url:
    file: ../secrets/${NAPOPS_ENV:?}/hook_url
  w_only:
    file: ../secrets/${NAPOPS_ENV:?}/w_only
"""

HOSTS = """\
environments:
  prod:
    hosts:
      one:
        docker_host: unix:///var/run/docker.sock
        stacks: [a]
      two:
        docker_host: ssh://napops@two
        stacks: [w]
"""


@pytest.fixture
def two_clones(compose_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The estate with stacks a (host one) and w (host two), in a clone for each host."""
    (compose_dir / "env" / "prod" / "w.env").write_text("NAPOPS_ENV=prod\n")
    (compose_dir / "stacks" / "w.yml").write_text(STACK_W)
    (compose_dir / "hosts.yml").write_text(HOSTS)
    second = tmp_path / "clone-two"
    shutil.copytree(compose_dir, second)
    return compose_dir, second


def files(clone: Path) -> list[str]:
    folder = clone / "secrets" / "prod"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_secret_two_hosts_read_is_made_on_the_first_and_never_anew_on_the_second(
    two_clones: tuple[Path, Path],
) -> None:
    one, two = two_clones
    refused = run(two, "--env", "prod", "--host", "two")
    assert refused.returncode == 1
    assert files(two) == ["w_only"]  # its own secret is made; the shared one is not
    assert "skipped  hook_url" in refused.stdout
    want = two / "secrets" / "prod" / "hook_url"
    assert "hook_url is read on one too" in refused.stderr
    assert "make secrets ENV=prod HOST=one" in refused.stderr and str(want) in refused.stderr

    made = run(one, "--env", "prod", "--host", "one")
    assert made.returncode == 0, made.stderr
    assert files(one) == ["admin_password", "db_password", "hook_url"]  # not w_only
    assert "shared   hook_url is read on two too" in made.stdout
    # the file is for this host's readers only
    assert "created  hook_url (0600" in made.stdout and "for app (65532:65532)" in made.stdout
    assert "watcher" not in made.stdout

    shutil.copy2(one / "secrets" / "prod" / "hook_url", want)  # the operator copies it
    again = run(two, "--env", "prod", "--host", "two")
    assert again.returncode == 0, again.stderr
    assert "kept     hook_url" in again.stdout and "kept     w_only" in again.stdout
    assert want.read_bytes() == (one / "secrets" / "prod" / "hook_url").read_bytes()


def test_without_a_host_every_secret_is_made_and_the_shared_ones_named(
    two_clones: tuple[Path, Path],
) -> None:
    one, _ = two_clones
    proc = run(one, "--env", "prod")
    assert proc.returncode == 0, proc.stderr
    assert files(one) == ["admin_password", "db_password", "hook_url", "w_only"]
    assert "shared   hook_url is read on one, two: one value" in proc.stdout
    assert proc.stdout.count("shared ") == 1


def test_a_host_that_is_not_placed_or_with_stacks_is_a_usage_error(
    two_clones: tuple[Path, Path],
) -> None:
    one, _ = two_clones
    unknown = run(one, "--env", "prod", "--host", "three")
    assert (
        unknown.returncode == 2 and "prod has no host 'three' (hosts: one, two)" in unknown.stderr
    )
    both = run(one, "--env", "prod", "--host", "one", "--stacks", "a")
    assert both.returncode == 2 and "--host and --stacks" in both.stderr
    unplaced = run(one, "--env", "dev", "--host", "one")
    assert unplaced.returncode == 2 and "places nothing for environment 'dev'" in unplaced.stderr
    assert files(one) == [] and not (one / "secrets" / "dev").exists()


def test_in_prod_the_boxes_share_exactly_the_alerting_and_audit_secrets(tmp_path: Path) -> None:
    """The shipped placement: the QNAP makes the four secrets both boxes read; the ASUSTOR,
    in a clone of its own, refuses to make them anew."""
    require_tool("docker")
    clone = tmp_path / "compose"
    shutil.copytree(ROOT / "compose", clone, ignore=shutil.ignore_patterns("secrets"))
    proc = run(clone, "--env", "prod", "--host", "asustor", "--dry-run")
    assert proc.returncode == 1
    refused = sorted(
        line.split(" ", 2)[1] for line in proc.stderr.splitlines() if "which makes it" in line
    )
    assert refused == ["audit_key", "relay_token", "rocketchat_webhook_url", "smtp_password"]
    assert all(
        "read on qnap too" in line for line in proc.stderr.splitlines() if "makes it" in line
    )
    assert " grafana_admin_password for grafana" in proc.stdout  # the ASUSTOR's own
    assert "mongo_root_password" not in proc.stdout  # the QNAP's
    assert not (clone / "secrets").exists()

"""compose/config/common/env-from-files.sh in a real container, alone and as the apps stack runs it.

The NAP-DMS backend and frontend read their secrets only from the environment. The wrapper is
their Compose entrypoint: it exports X from the file named by X_FILE and execs the image's own
entrypoint. Checked here with a small image built locally (FROM the napops-local Debian base)
whose own entrypoint stands in for the application's: it reports, without the value, what the
process sees. The secret is a file mounted read-only under /run/secrets, as Compose mounts a
file secret, owned by the uid the container runs as (the backend's 1001). The last test starts
the backend service of compose/stacks/apps.yml itself (its entrypoint, secrets, user, read-only
root and upload volumes) on a stand-in image built like the backend's Dockerfile.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ROOT, missing, require_docker, wait_for

pytestmark = pytest.mark.e2e

COMPOSE = ROOT / "compose"
WRAPPER = COMPOSE / "config" / "common" / "env-from-files.sh"
BASE = "napops-local/debian:bookworm"
PREFIX = "estate-fidelity-env-from-files"
IMAGE = f"{PREFIX}:test"
USER = "1001:1001"

# The stand-in image's own entrypoint: what the application would see, never the value.
APP_ENTRYPOINT = """#!/bin/sh
echo "entrypoint pid $$ args: $*"
if [ -n "${DB_PASSWORD+set}" ]; then
  echo "DB_PASSWORD sha256 $(printf %s "$DB_PASSWORD" | sha256sum | cut -d' ' -f1)"
else
  echo "DB_PASSWORD unset"
fi
echo "DB_PASSWORD_FILE ${DB_PASSWORD_FILE-unset}"
exec "$@"
"""
DOCKERFILE = f"""FROM {BASE}
COPY app-entrypoint /usr/local/bin/app-entrypoint
RUN chmod 0755 /usr/local/bin/app-entrypoint
ENTRYPOINT ["/usr/local/bin/app-entrypoint"]
CMD ["sleep", "300"]
"""


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    require_docker()
    if docker("image", "inspect", BASE).returncode != 0:
        missing(f"the local base image {BASE} (make images)")
    context = tmp_path_factory.mktemp("image")
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "app-entrypoint").write_text(APP_ENTRYPOINT)
    built = docker("build", "--network", "none", "-t", IMAGE, str(context), timeout=300)
    assert built.returncode == 0, built.stderr
    return IMAGE


@pytest.fixture
def secret_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    folder.chmod(0o755)
    return folder


def write_secret(folder: Path, name: str, value: str, owner: int = 1001, mode: int = 0o600) -> Path:
    path = folder / name
    path.write_text(value + "\n")
    path.chmod(mode)
    if os.geteuid() == 0:
        os.chown(path, owner, owner)
    else:  # not root: the container user cannot be given the file; let it read it
        path.chmod(0o644)
    return path


@pytest.fixture
def containers() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        docker("rm", "-f", name)


def run(
    image: str,
    containers: list[str],
    mounts: dict[Path, str],
    env: dict[str, str],
    detach: bool = False,
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """The container as Compose runs the backend: wrapper mounted read-only as entrypoint, the
    image's entrypoint and command after it, non-root, read-only root filesystem."""
    name = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    containers.append(name)
    args = ["run", "--name", name, "--network", "none", "--user", USER, "--read-only"]
    args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"]
    args += ["-v", f"{WRAPPER}:/usr/local/lib/napops/env-from-files.sh:ro"]
    for source, target in mounts.items():
        args += ["-v", f"{source}:{target}:ro"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    args += ["-d"] if detach else []
    args += ["--entrypoint", "/bin/sh", image, "/usr/local/lib/napops/env-from-files.sh"]
    args += ["/usr/local/bin/app-entrypoint", "sleep", "300" if detach else "0"]
    return name, docker(*args)


def test_a_file_secret_becomes_the_variable_and_never_shows(
    image: str, containers: list[str], secret_dir: Path
) -> None:
    value = secrets.token_urlsafe(24)
    path = write_secret(secret_dir, "lcbp3_db_password", value)
    name, proc = run(
        image,
        containers,
        {path: "/run/secrets/lcbp3_db_password"},
        {"DB_PASSWORD_FILE": "/run/secrets/lcbp3_db_password"},
        detach=True,
    )
    assert proc.returncode == 0, proc.stderr
    digest = hashlib.sha256(value.encode()).hexdigest()

    def logs() -> str:
        out = docker("logs", name)
        return out.stdout + out.stderr

    wait_for(lambda: "DB_PASSWORD sha256" in logs(), timeout=30, what="the entrypoint's report")
    text = logs()
    # the image's own entrypoint ran as PID 1 (exec, no shell left over) and saw the variable
    assert "entrypoint pid 1 args: sleep 300" in text, text
    assert f"DB_PASSWORD sha256 {digest}" in text, text
    assert "DB_PASSWORD_FILE unset" in text, text
    # the command the entrypoint exec'd (PID 1) has it in its environment
    environ = docker("exec", name, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ")
    assert environ.returncode == 0, environ.stderr
    lines = environ.stdout.splitlines()
    assert f"DB_PASSWORD={value}" in lines, "DB_PASSWORD is not in the process environment"
    assert not any(line.startswith("DB_PASSWORD_FILE=") for line in lines)
    # ... and nowhere else: not in the logs, not in the container's configuration
    assert value not in text
    inspect = docker("inspect", name)
    assert inspect.returncode == 0, inspect.stderr
    assert value not in inspect.stdout
    config_env = json.loads(inspect.stdout)[0]["Config"]["Env"]
    assert "DB_PASSWORD_FILE=/run/secrets/lcbp3_db_password" in config_env


def test_a_missing_file_is_a_clear_error(image: str, containers: list[str]) -> None:
    _, proc = run(image, containers, {}, {"DB_PASSWORD_FILE": "/run/secrets/lcbp3_db_password"})
    assert proc.returncode == 78, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.strip() == (
        "env-from-files: DB_PASSWORD_FILE=/run/secrets/lcbp3_db_password does not exist: "
        "is the secret mounted? (DB_PASSWORD not set)"
    )
    assert "entrypoint" not in proc.stdout, "the application started without its secret"


def test_an_unreadable_file_is_a_clear_error(
    image: str, containers: list[str], secret_dir: Path
) -> None:
    if os.geteuid() != 0:
        missing("root, to give the secret file another owner than the container user")
    path = write_secret(secret_dir, "jwt_secret", secrets.token_hex(32), owner=0)
    _, proc = run(
        image,
        containers,
        {path: "/run/secrets/jwt_secret"},
        {"JWT_SECRET_FILE": "/run/secrets/jwt_secret"},
    )
    assert proc.returncode == 78, (proc.returncode, proc.stderr)
    assert (
        "JWT_SECRET_FILE=/run/secrets/jwt_secret is not readable by uid 1001 gid 1001"
        in proc.stderr
    )
    assert "entrypoint" not in proc.stdout


def test_a_value_set_twice_is_refused(image: str, containers: list[str], secret_dir: Path) -> None:
    value = secrets.token_urlsafe(24)
    path = write_secret(secret_dir, "auth_secret", value)
    _, proc = run(
        image,
        containers,
        {path: "/run/secrets/auth_secret"},
        {"AUTH_SECRET_FILE": "/run/secrets/auth_secret", "AUTH_SECRET": "x"},
    )
    assert proc.returncode == 78, (proc.returncode, proc.stderr)
    assert "AUTH_SECRET and AUTH_SECRET_FILE are both set" in proc.stderr
    assert value not in proc.stdout + proc.stderr


def test_an_empty_file_is_refused(image: str, containers: list[str], secret_dir: Path) -> None:
    path = write_secret(secret_dir, "redis_password", "")
    _, proc = run(
        image,
        containers,
        {path: "/run/secrets/redis_password"},
        {"REDIS_PASSWORD_FILE": "/run/secrets/redis_password"},
    )
    assert proc.returncode == 78, (proc.returncode, proc.stderr)
    assert "REDIS_PASSWORD_FILE=/run/secrets/redis_password is empty" in proc.stderr


# ---- the backend service of compose/stacks/apps.yml, on a stand-in of the backend image ----

BACKEND_SECRETS = {  # variable -> secret file (compose/secrets/<env>/)
    "DB_PASSWORD": "lcbp3_db_password",
    "REDIS_PASSWORD": "redis_password.backend",
    "ELASTICSEARCH_PASSWORD": "elastic_password.backend",
    "JWT_SECRET": "jwt_secret",
    "JWT_REFRESH_SECRET": "jwt_refresh_secret",
}
# Like the backend's Dockerfile (contract §3): /app/uploads/{temp,permanent} owned by nestjs
# 1001, entrypoint docker-entrypoint.sh, command node dist/main. The stand-in entrypoint reports
# what the application would see; its `node` only waits.
BACKEND_DOCKERFILE = f"""FROM {BASE}
RUN mkdir -p /app/uploads/temp /app/uploads/permanent && chown -R 1001:1001 /app/uploads
COPY docker-entrypoint.sh node /usr/local/bin/
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh /usr/local/bin/node
WORKDIR /app
"""
BACKEND_ENTRYPOINT = r"""#!/bin/sh
echo "entrypoint pid $$ uid $(id -u) args: $*"
for var in DB_PASSWORD REDIS_PASSWORD ELASTICSEARCH_PASSWORD JWT_SECRET JWT_REFRESH_SECRET; do
  eval "value=\${$var-}"
  echo "$var sha256 $(printf %s "$value" | sha256sum | cut -d' ' -f1)"
done
echo "DB_HOST=$DB_HOST DB_DATABASE=$DB_DATABASE DB_USERNAME=$DB_USERNAME REDIS_HOST=$REDIS_HOST"
for dir in /app/uploads/temp /app/uploads/permanent; do
  if touch "$dir/.write-check" && rm "$dir/.write-check"; then echo "writable $dir"; fi
done
exec "$@"
"""


@pytest.fixture
def apps_env(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A unique NAPOPS_ENV: its external networks and secret files, removed afterwards."""
    env = f"{PREFIX}-{uuid.uuid4().hex[:8]}"
    folder = COMPOSE / "secrets" / env
    folder.mkdir(mode=0o700)
    nets = [f"napops-{env}-{n}" for n in ("edge", "data", "probe")]
    for net in nets:
        assert docker("network", "create", net).returncode == 0
    values = {var: secrets.token_urlsafe(24) for var in BACKEND_SECRETS}
    for var, name in BACKEND_SECRETS.items():
        write_secret(folder, name, values[var])
    write_secret(folder, "auth_secret", secrets.token_urlsafe(24))
    try:
        yield env, values
    finally:
        shutil.rmtree(folder)
        for net in nets:
            docker("network", "rm", net)


def test_the_backend_of_the_apps_stack_reads_its_secrets_through_the_wrapper(
    tmp_path: Path, apps_env: tuple[str, dict[str, str]]
) -> None:
    require_docker()
    if docker("image", "inspect", BASE).returncode != 0:
        missing(f"the local base image {BASE} (make images)")
    if os.geteuid() != 0:
        missing("root, to give the secret files to the backend's uid 1001")
    env, values = apps_env
    context = tmp_path / "backend"
    context.mkdir()
    (context / "Dockerfile").write_text(BACKEND_DOCKERFILE)
    (context / "docker-entrypoint.sh").write_text(BACKEND_ENTRYPOINT)
    (context / "node").write_text("#!/bin/sh\nexec sleep 300\n")
    image = f"{PREFIX}-backend"
    built = docker("build", "--network", "none", "-t", f"{image}:test", str(context), timeout=300)
    assert built.returncode == 0, built.stderr
    args = [
        "-f",
        str(COMPOSE / "stacks" / "apps.yml"),
        "-f",
        str(COMPOSE / "env" / "dev" / "apps.yml"),
    ]
    args += ["--env-file", str(COMPOSE / "env" / "dev" / "apps.env")]
    # only what the CLI needs, and what this run sets (as tests/compose/compose_render.py does)
    keep = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT")
    shell = {k: v for k, v in os.environ.items() if k in keep}
    shell |= {"NAPOPS_ENV": env, "BACKEND_IMAGE": image, "BACKEND_VERSION": "test"}

    def compose(*more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", *args, *more],
            capture_output=True,
            text=True,
            timeout=300,
            env=shell,
        )

    try:
        up = compose("up", "-d", "--no-deps", "backend")
        assert up.returncode == 0, up.stderr

        def logs() -> str:
            return compose("logs", "--no-color", "backend").stdout

        wait_for(
            lambda: "writable /app/uploads/permanent" in logs() or "env-from-files" in logs(),
            timeout=60,
            what="the backend stand-in's report",
        )
        text = logs()
        assert "env-from-files" not in text, text
        # (PID 1 is Compose's init here; the exec chain is checked by the first test)
        assert "uid 1001 args: node dist/main" in text, text
        for var, value in values.items():
            digest = hashlib.sha256(value.encode()).hexdigest()
            assert f"{var} sha256 {digest}" in text, f"{var} does not hold its secret file's value"
            assert value not in text
        assert "DB_HOST=mariadb DB_DATABASE=lcbp3 DB_USERNAME=center REDIS_HOST=cache" in text
        assert "writable /app/uploads/temp" in text and "writable /app/uploads/permanent" in text
        container = compose("ps", "-q", "backend").stdout.strip()
        inspect = docker("inspect", container)
        assert inspect.returncode == 0 and container
        assert not any(value in inspect.stdout for value in values.values())
    finally:
        down = compose("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stderr

"""The backup e2e tests: real MariaDB, PostgreSQL and Redis containers (built from Debian's
packages by `make images`), a real restic repository, the real `napops` CLI.

Everything a test creates carries the label napops.test=<id> and the prefix backup-e2e-, and
is removed afterwards. Each test's backups are of an environment of its own (e2e-<id>), so its
scratch containers (labelled napops.backup.environment=e2e-<id>) are removed with it and no
other test's: the files of this folder run in parallel."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.restic import make_repo

from helpers import missing, require_docker, require_tool, wait_for

MARIADB = "napops-local/mariadb:10.11-debian12"
POSTGRES = "napops-local/postgres:15-debian12"
REDIS = "napops-local/redis:7.0-debian12"
BASE = "napops-local/debian:bookworm"


def docker(*args: str, check: bool = True, input: bytes | None = None) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, timeout=300, input=input)
    if check and res.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {res.stderr.decode()}")
    return res.stdout.decode()


def require_image(tag: str) -> None:
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:
        missing(f"image {tag} (make images builds it)")


class Estate:
    """Containers and volumes of one test, removed at the end."""

    def __init__(self) -> None:
        self.id = secrets.token_hex(3)
        self.prefix = f"backup-e2e-{self.id}"
        self.volumes: list[str] = []

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def run(
        self,
        what: str,
        image: str,
        *args: str,
        env: dict[str, str] | None = None,
        volumes: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> str:
        name = self.name(what)
        argv = ["run", "-d", "--name", name, "--label", f"napops.test={self.prefix}"]
        for k, v in (env or {}).items():
            argv += ["-e", f"{k}={v}"]
        for vol, path in (volumes or {}).items():
            full = self.name(vol)
            if full not in self.volumes:
                self.volumes.append(full)
            argv += ["-v", f"{full}:{path}"]
        for k, v in (labels or {}).items():
            argv += ["--label", f"{k}={v}"]
        docker(*argv, image, *args)
        return name

    def mariadb(self, what: str = "mariadb", **kw: Any) -> str:
        name = self.run(
            what,
            MARIADB,
            env={"MARIADB_ROOT_PASSWORD": "rootpw", "MARIADB_DATABASE": "app"},
            volumes={f"{what}-data": "/var/lib/mysql"},
            **kw,
        )
        wait_for(lambda: maria(name, "SELECT 1") == "1", 120, what=f"{name} ready")
        return name

    def postgres(self, what: str = "postgres", **kw: Any) -> str:
        name = self.run(
            what,
            POSTGRES,
            env={"POSTGRES_PASSWORD": "pgpw", "POSTGRES_DB": "n8n"},
            volumes={f"{what}-data": "/var/lib/postgresql/data"},
            **kw,
        )
        wait_for(lambda: pg(name, "n8n", "SELECT 1") == "1", 120, what=f"{name} ready")
        return name

    def redis(self, what: str = "redis", **kw: Any) -> str:
        name = self.run(what, REDIS, volumes={f"{what}-data": "/data"}, **kw)
        wait_for(
            lambda: docker("exec", name, "redis-cli", "PING").strip() == "PONG",
            60,
            what=f"{name} ready",
        )
        return name

    def files(self, what: str = "files", **kw: Any) -> str:
        # tini-less sleep: stop needs its timeout, so the image's init is used
        return self.run(
            what, BASE, "sleep", "infinity", volumes={f"{what}-vol": "/srv/uploads"}, **kw
        )

    def destroy(self) -> None:
        ids = docker("ps", "-aq", "--filter", f"label=napops.test={self.prefix}").split()
        if ids:
            docker("rm", "-f", "-v", *ids, check=False)
        for vol in self.volumes:
            docker("volume", "rm", "-f", vol, check=False)


def root_password(container: str) -> str:
    """The root password the container was created with (a scratch server has its own)."""
    env = json.loads(docker("inspect", "-f", "{{json .Config.Env}}", container))
    return next(e.split("=", 1)[1] for e in env if e.startswith("MARIADB_ROOT_PASSWORD="))


def maria(container: str, query: str, db: str = "app") -> str:
    pw = root_password(container)
    return docker(
        "exec", "-e", f"MYSQL_PWD={pw}", container, "mariadb", "-uroot", "-N", "-B", db, "-e", query
    ).strip()


def pg(container: str, db: str, query: str) -> str:
    return docker("exec", container, "psql", "-X", "-At", "-d", db, "-c", query).strip()


@pytest.fixture
def estate() -> Iterator[Estate]:
    require_docker()
    for tag in (MARIADB, POSTGRES, REDIS, BASE):
        require_image(tag)
    e = Estate()
    try:
        yield e
    finally:
        e.destroy()


class Napops:
    """A restic repository, the backup sidecar's configuration, and the CLI."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.repo = tmp / "repo"
        self.password = tmp / "restic-password"
        self.password.write_text("correct horse battery staple\n")
        self.state = tmp / "state"
        self.config = tmp / "backup.yml"
        self.environment = f"e2e-{secrets.token_hex(3)}"
        self.section: dict[str, Any] = {
            "environment": self.environment,
            "repository": str(self.repo),
            "password_file": str(self.password),
            "cache_dir": str(tmp / "cache"),
            "labels": False,
            "min_free_bytes": 0,
            "retry": {"attempts": 2, "backoff_seconds": 1},
            "items": [],
        }
        self.env = dict(os.environ)

    def init(self) -> None:
        make_repo(self.repo, self.password.read_text().rstrip("\n"))

    def item(self, service: str, strategy: str, container: str, **options: Any) -> None:
        self.section["items"].append(
            {"service": service, "strategy": strategy, "container": container, "options": options}
        )

    def write(self) -> None:
        self.config.write_text(
            yaml.safe_dump({"state_dir": str(self.state), "backup": self.section})
        )

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        self.write()
        return subprocess.Popen(
            [sys.executable, "-m", "napops.cli", *args, "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )

    def __call__(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        self.write()
        return subprocess.run(
            [sys.executable, "-m", "napops.cli", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )

    def run_json(self, *args: str) -> tuple[int, Any]:
        res = self(*args, "--json")
        try:
            return res.returncode, json.loads(res.stdout)
        except ValueError:
            raise AssertionError(
                f"not JSON (exit {res.returncode}): {res.stdout}\n{res.stderr}"
            ) from None

    def restic(self, *args: str) -> str:
        res = subprocess.run(
            ["restic", "-r", str(self.repo), "--password-file", str(self.password), *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout

    def wait_lock_holders_gone(self, timeout: float = 60) -> None:
        """Wait until the processes holding the repository's locks are gone from this machine.

        A restic whose napops parent was killed dies with it, but stays a zombie until the
        machine's init reaps it; until then its pid exists, and restic (so `restic unlock`)
        takes its lock for a live holder's. A test that kills napops waits for this, as the
        next scheduled run (a day later) would."""
        pids = [
            json.loads(self.restic("cat", "lock", lock, "--no-lock"))["pid"]
            for lock in self.restic("list", "locks", "--no-lock").split()
        ]
        wait_for(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids),
            timeout,
            what=f"the lock holders {pids} to be gone",
        )

    def state_doc(self) -> dict[str, Any]:
        return json.loads((self.state / "backup-state.json").read_text())

    def remove_scratch(self) -> None:
        """Remove the scratch containers of this environment (a kept or a left-over one)."""
        label = f"label=napops.backup.environment={self.environment}"
        ids = docker("ps", "-aq", "--filter", label).split()
        if ids:
            docker("rm", "-f", "-v", *ids, check=False)


@pytest.fixture
def napops(tmp_path: Path) -> Iterator[Napops]:
    require_tool("restic")
    n = Napops(tmp_path)
    n.init()
    try:
        yield n
    finally:
        n.remove_scratch()

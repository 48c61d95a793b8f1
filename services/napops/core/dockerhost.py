"""Docker access through docker-py. Hosts are configured, never implied.

:class:`Engine` is what sidecars use: find containers by label or by Compose project and
service, inspect them, run a command inside one with its standard output streamed (a dump
piped out of a container without landing on disk), copy a file in, read a path out as a tar
stream, and start, stop or restart. The engine may be local (unix socket), remote over
``ssh://`` (the ``ssh`` binary when present, else paramiko) or ``tcp://`` with TLS client
certificates.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import paramiko
from docker.models.containers import Container
from docker.tls import TLSConfig

from . import dockerstream
from .errors import NapopsError

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
STDERR_TAIL_BYTES = 4096


class DockerError(NapopsError):
    """The engine refused or could not do what was asked; the message says what and why."""


class _Unreachable(DockerError):
    """The client could not be made (the engine did not answer its version request)."""


def client(config: Mapping[str, Any] | None = None) -> docker.DockerClient:
    """A client for ``docker.host`` in the config, else ``DOCKER_HOST``, else the local socket.

    ``ssh://`` hosts go through the ``ssh`` binary when there is one (its config, keys, agent
    and known_hosts apply), else through paramiko (mount the key and known_hosts at ~/.ssh).
    Either way the remote side runs ``docker system dial-stdio``. ``tcp://`` with
    ``tls: {ca_file, cert_file, key_file}`` authenticates with a client certificate and
    verifies the engine. Raises docker.errors.DockerException when the engine cannot be
    reached.
    """
    cfg = dict(config or {})
    host = cfg.get("host") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    timeout = int(cfg.get("timeout_seconds", 10))
    tls_cfg = cfg.get("tls")
    tls: TLSConfig | bool = False
    if tls_cfg:
        tls = TLSConfig(
            client_cert=(tls_cfg["cert_file"], tls_cfg["key_file"]),
            ca_cert=tls_cfg["ca_file"],
            verify=True,
        )
        host = host.replace("tcp://", "https://", 1)
    ssh_binary = host.startswith("ssh://") and shutil.which("ssh") is not None
    engine = docker.DockerClient.__new__(docker.DockerClient)  # what its __init__ does, with
    engine.api = _APIClient(base_url=host, timeout=timeout, tls=tls, use_ssh_client=ssh_binary)
    return engine


class _APIClient(docker.APIClient):
    """docker-py's client, except that a configured CA file is always the one used.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's CA file
    (it merges them in per request), so on a host that sets them the engine's certificate
    would be checked against the system bundle instead of ``docker.tls.ca_file``.
    """

    def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(*args, **kwargs)
        if isinstance(self.verify, str):
            settings["verify"] = self.verify
        return settings


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: str


class ExecStream:
    """Standard output of a command running in a container, chunk by chunk.

    Iterate to consume standard output; afterwards :attr:`exit_code` holds the command's exit
    status and :attr:`stderr` the tail of its standard error. :meth:`check` raises
    DockerError when the command failed, so a dump that exits non-zero fails its item even
    though the reader received a stream.
    """

    def __init__(
        self, api: Any, exec_id: str, chunks: Iterator[tuple[bytes | None, bytes | None]], what: str
    ):
        self._api, self._id, self._chunks, self.what = api, exec_id, chunks, what
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.bytes = 0
        self.exit_code: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        for out, err in self._chunks:
            if err:
                self._keep(err)
            if out:
                self.bytes += len(out)
                yield out
        self.exit_code = self._wait_exit()

    def _wait_exit(self) -> int:
        # the stream ends a moment before the engine records the exit code
        for _ in range(100):
            info = self._api.exec_inspect(self._id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.05)
        raise DockerError(f"{self.what}: the engine did not report an exit status")

    def _keep(self, chunk: bytes) -> None:
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(self._tail[0]) >= STDERR_TAIL_BYTES and len(self._tail) > 1:
            self._tail_size -= len(self._tail.popleft())

    @property
    def stderr(self) -> str:
        return b"".join(self._tail)[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")

    def check(self) -> None:
        """Raise DockerError unless the command ran to the end with exit status 0."""
        if self.exit_code is None:
            raise DockerError(f"{self.what}: the output was not read to its end")
        if self.exit_code != 0:
            last = self.stderr.strip().splitlines()[-1:] or [""]
            raise DockerError(f"{self.what}: exit status {self.exit_code}: {last[0]}".rstrip(": "))


class Engine:
    """A Docker client made on first use, so a sidecar starts (not ready) while its engine is
    away, and connects once the engine answers."""

    def __init__(self, config: Mapping[str, Any] | None = None, name: str = "docker"):
        self._config = dict(config or {})
        self.name = name
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                try:
                    self._client = client(self._config)
                except (docker.errors.DockerException, OSError) as exc:
                    raise _Unreachable(f"cannot reach the engine: {self._tls_hint(exc)}") from None
            return self._client

    @property
    def api(self) -> Any:
        return self.client.api

    def ping(self) -> None:
        """Raise unless the engine answers ``/_ping``."""
        self.client.ping()

    def ping_or_raise(self) -> None:
        """Like :meth:`ping`, but every failure is a DockerError saying why."""
        self._call("ping", lambda: self.client.ping())

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- finding -----------------------------------------------------------------------------
    def containers(
        self,
        labels: Mapping[str, str | None] | None = None,
        project: str | None = None,
        service: str | None = None,
        include_stopped: bool = False,
    ) -> list[Container]:
        """Containers whose labels match (a None value: the label is present, any value)."""
        wanted = dict(labels or {})
        if project is not None:
            wanted[COMPOSE_PROJECT] = project
        if service is not None:
            wanted[COMPOSE_SERVICE] = service
        filters = [k if v is None else f"{k}={v}" for k, v in wanted.items()]
        return list(
            self._call(
                "list containers",
                self.client.containers.list,
                all=include_stopped,
                filters={"label": filters} if filters else {},
                # a container removed between the list and its inspect (a deploy's old
                # colour) is left out, not a failed listing
                ignore_removed=True,
            )
        )

    def inspect_running(
        self, labels: Mapping[str, str | None] | None = None
    ) -> list[dict[str, Any]]:
        """``docker inspect`` of every running container whose labels match (a None value:
        present, any value): one list call and one inspect each. A container removed between
        the two is left out, not an error (a busy engine starts and removes containers all
        the time)."""
        filters = [k if v is None else f"{k}={v}" for k, v in (labels or {}).items()]
        summaries = self._call(
            "list containers",
            lambda: self.api.containers(filters={"label": filters} if filters else {}),
        )
        out = []
        for summary in summaries:
            try:
                out.append(
                    self._call("inspect", lambda i=summary["Id"]: self.api.inspect_container(i))
                )
            except DockerError as exc:
                if "not found" in str(exc):
                    continue
                raise
        return out

    def get(self, name_or_id: str) -> Container:
        """One container; DockerError naming it when it does not exist."""
        return self._call(f"container {name_or_id}", self.client.containers.get, name_or_id)

    def inspect(self, name_or_id: str) -> dict[str, Any]:
        attrs: dict[str, Any] = self.get(name_or_id).attrs
        return attrs

    # -- exec --------------------------------------------------------------------------------
    def exec_stream(
        self,
        container: str,
        argv: list[str],
        user: str | None = None,
        environment: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecStream:
        """Start ``argv`` in ``container``; iterate the result for its standard output."""
        what = f"{' '.join(argv[:2])} in {container}"
        created = self._call(
            what,
            self.api.exec_create,
            container,
            argv,
            stdout=True,
            stderr=True,
            user=user or "",
            environment=dict(environment or {}),
            workdir=workdir,
        )
        # not docker-py's exec_start: it can lose output that came with the headers
        chunks = self._call(what, dockerstream.start, self.api, created["Id"])
        return ExecStream(self.api, created["Id"], chunks, what)

    def exec_run(
        self,
        container: str,
        argv: list[str],
        user: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run ``argv`` in ``container`` to the end; returns exit code, stdout, stderr tail."""
        stream = self.exec_stream(container, argv, user, environment)
        out = b"".join(stream)
        assert stream.exit_code is not None
        return ExecResult(stream.exit_code, out, stream.stderr)

    # -- files -------------------------------------------------------------------------------
    def put_file(
        self,
        container: str,
        path: str,
        data: bytes,
        mode: int = 0o600,
        uid: int = 0,
        gid: int = 0,
    ) -> None:
        """Write ``data`` to ``path`` inside ``container`` (its directory must exist)."""
        directory, name = os.path.split(path)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        ok = self._call(
            f"copy to {container}:{path}",
            self.api.put_archive,
            container,
            directory or "/",
            buf.getvalue(),
        )
        if not ok:
            raise DockerError(f"copy to {container}:{path}: the engine refused the archive")

    def get_archive(self, container: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        """A tar stream of ``path`` in ``container`` and the engine's stat of it."""
        stream, stat = self._call(
            f"read {container}:{path}", self.api.get_archive, container, path, chunk_size=1 << 20
        )
        return stream, stat

    # -- state -------------------------------------------------------------------------------
    def start(self, container: str) -> None:
        self._call(f"start {container}", self.api.start, container)

    def stop(self, container: str, timeout: int = 10) -> None:
        self._call(f"stop {container}", self.api.stop, container, timeout=timeout)

    def restart(self, container: str, timeout: int = 10) -> None:
        self._call(f"restart {container}", self.api.restart, container, timeout=timeout)

    def remove(self, container: str, force: bool = True) -> None:
        self._call(f"remove {container}", self.api.remove_container, container, force=force)

    def health(self, container: str) -> str:
        """``healthy``, ``unhealthy``, ``starting``, or ``none`` (no healthcheck), or the
        container's state when it is not running."""
        state = self.inspect(container)["State"]
        if not state.get("Running"):
            return str(state.get("Status", "exited"))
        return str((state.get("Health") or {}).get("Status", "none"))

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _Unreachable as exc:  # the client could not be made, inside ``fn``
            raise DockerError(f"{what}: {exc}") from None
        except docker.errors.NotFound as exc:
            raise DockerError(f"{what}: not found ({_explain(exc)})") from None
        except docker.errors.APIError as exc:
            raise DockerError(f"{what}: {_explain(exc)}") from None
        except docker.errors.DockerException as exc:
            raise DockerError(f"{what}: cannot reach the engine: {self._tls_hint(exc)}") from None
        except OSError as exc:  # connection refused or reset on the way
            raise DockerError(f"{what}: cannot reach the engine: {self._tls_hint(exc)}") from None
        except paramiko.SSHException as exc:  # ssh:// through paramiko: unknown host, bad key
            raise DockerError(f"{what}: cannot reach the engine over ssh: {exc}") from None

    def _tls_hint(self, exc: BaseException) -> str:
        """The error, and with TLS configured, which side's certificate a TLS failure is about
        (a refused client certificate often shows only as an EOF in the handshake)."""
        text = str(exc)
        if not self._config.get("tls") or "SSL" not in text:
            return text
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return f"{text} (the engine's certificate is not signed by docker.tls.ca_file)"
        return (
            f"{text} (the engine ended the TLS handshake: it did not accept the client "
            "certificate docker.tls.cert_file)"
        )


def _explain(exc: docker.errors.APIError) -> str:
    return str(getattr(exc, "explanation", None) or exc)

"""The restic repository, through core.commands: nothing here re-implements restic.

Every call runs the ``restic`` binary with the repository and the password file in its
environment (never on the command line). Exit codes become reasons (:data:`REASONS`); an
unknown code is still a failure. Works with Debian's restic 0.14 (no ``--stdin-from-command``,
no ``check --json``) and with newer releases (exit codes 10/11/12).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core import commands
from ..core.errors import NapopsError

REASONS: dict[int, str] = {
    1: "fatal error (restic could not do it)",
    3: "some source data could not be read (the snapshot is incomplete)",
    10: "the repository does not exist",
    11: "the repository is locked by another process",
    12: "wrong password for the repository",
    130: "interrupted",
}


class ResticError(NapopsError):
    """restic failed; ``reason`` says why in words, ``code`` is its exit status."""

    def __init__(self, message: str, code: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.code, self.stderr = code, stderr

    @property
    def unreachable(self) -> bool:
        """The repository could not be reached (as opposed to bad data or a bad password)."""
        text = self.stderr.lower()
        return self.code == 10 or any(
            s in text
            for s in (
                "no such file or directory",
                "unable to open config file",
                "connection refused",
                "connection reset",
                "no route to host",
                "i/o timeout",
                "broken pipe",
                "is there a repository at the following location",
            )
        )

    @property
    def wrong_password(self) -> bool:
        return self.code == 12 or "wrong password" in self.stderr.lower()

    @property
    def locked(self) -> bool:
        return self.code == 11 or "repository is already locked" in self.stderr.lower()


def classify(code: int, stderr: str) -> str:
    """A reason for restic's exit ``code``, sharpened by what 0.14 prints on stderr (it exits
    1 for a missing repository or a wrong password, where newer releases use 10 and 12)."""
    text = stderr.lower()
    if "wrong password" in text:
        return REASONS[12]
    if "is there a repository at the following location" in text or (
        "unable to open config file" in text
    ):
        return REASONS[10]
    if "repository is already locked" in text:
        return REASONS[11]
    return REASONS.get(code) or f"unknown exit status {code} (treated as a failure)"


@dataclass(frozen=True)
class BackupSummary:
    """restic's closing ``summary`` message of ``backup --json``."""

    snapshot_id: str
    files: int
    bytes_processed: int
    bytes_added: int
    duration_seconds: float
    partial: bool = False  # exit 3: some files could not be read

    @classmethod
    def from_json(cls, data: Mapping[str, Any], partial: bool = False) -> BackupSummary:
        return cls(
            snapshot_id=str(data.get("snapshot_id", "")),
            files=int(data.get("files_new", 0))
            + int(data.get("files_changed", 0))
            + int(data.get("files_unmodified", 0)),
            bytes_processed=int(data.get("total_bytes_processed", 0)),
            bytes_added=int(data.get("data_added", 0)),
            duration_seconds=float(data.get("total_duration", 0.0)),
            partial=partial,
        )


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    paths: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    hostname: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        tags: dict[str, str] = {}
        for tag in data.get("tags") or []:
            key, _, value = str(tag).partition("=")
            tags[key] = value
        return cls(
            id=str(data["id"]),
            time=str(data.get("time", "")),
            paths=[str(p) for p in data.get("paths") or []],
            tags=tags,
            hostname=str(data.get("hostname", "")),
        )

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class Lock:
    id: str
    hostname: str
    pid: int
    exclusive: bool
    time: str


class Restic:
    """One repository. ``run`` is core.commands.run (a test may pass its own runner)."""

    def __init__(
        self,
        repository: str,
        password_file: str,
        binary: str = "restic",
        timeout_seconds: float = 6 * 3600,
        cache_dir: str | None = None,
        host: str | None = None,
        run: Callable[..., commands.Result] = commands.run,
    ):
        self.repository, self.password_file = repository, password_file
        self.binary, self.timeout = binary, timeout_seconds
        self.cache_dir = cache_dir
        self.host = host or socket.gethostname()
        self._run = run

    # -- plumbing ----------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "RESTIC_REPOSITORY": self.repository,
            "RESTIC_PASSWORD_FILE": self.password_file,
            "RESTIC_PROGRESS_FPS": "0.2",
        }
        if self.cache_dir:
            env["RESTIC_CACHE_DIR"] = self.cache_dir
        return env

    def argv(self, *args: str) -> list[str]:
        return [self.binary, *args]

    def call(
        self,
        *args: str,
        stdin_chunks: Iterable[bytes] | None = None,
        on_stdout: Callable[[bytes], None] | None = None,
        ok_codes: Sequence[int] = (0,),
        timeout: float | None = None,
    ) -> commands.Result:
        argv = self.argv(*args)
        try:
            return self._run(
                argv,
                timeout=timeout or self.timeout,
                stdin_chunks=stdin_chunks,
                on_stdout=on_stdout,
                env=self.env(),
                ok_codes=ok_codes,
                reasons=REASONS,
            )
        except commands.CommandFailed as exc:
            code = exc.returncode if exc.returncode is not None else -1
            reason = classify(code, exc.stderr_tail)
            last = _last_line(exc.stderr_tail)
            raise ResticError(
                f"restic {args[0]}: {reason}{': ' + last if last else ''}", code, exc.stderr_tail
            ) from None
        except commands.CommandTimeout as exc:
            raise ResticError(f"restic {args[0]}: {exc.reason}", None, exc.stderr_tail) from None
        except commands.CommandNotFound as exc:
            raise ResticError(f"restic {args[0]}: {exc.reason} ({self.binary})") from None

    def json(self, *args: str) -> Any:
        return json.loads(self.call(*args, "--json").stdout or b"null")

    # -- checks before a run -----------------------------------------------------------------
    def preflight(self) -> None:
        """Raise ResticError with a clear reason unless the repository exists, the password
        opens it and restic runs. Nothing is changed."""
        if shutil.which(self.binary) is None and not os.path.isfile(self.binary):
            raise ResticError(f"restic: program not found ({self.binary})")
        if not os.path.isfile(self.password_file):
            raise ResticError(f"restic: password file {self.password_file} does not exist")
        if "://" not in self.repository and ":" not in self.repository.split("/")[0]:
            if not os.path.isdir(self.repository):
                raise ResticError(f"restic: repository path {self.repository} does not exist", 10)
        self.call("cat", "config", "--no-lock", timeout=120)

    def init(self) -> None:
        self.call("init", timeout=120)

    # -- backup ------------------------------------------------------------------------------
    def backup_stdin(
        self,
        filename: str,
        chunks: Iterable[bytes],
        tags: Mapping[str, str],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> BackupSummary:
        """``restic backup --stdin`` of ``chunks`` as ``filename`` with ``key=value`` tags.

        The stream never lands on disk. Returns restic's summary; raises ResticError."""
        args = ["backup", "--stdin", "--stdin-filename", filename, "--json", "--host", self.host]
        for key, value in tags.items():
            args += ["--tag", f"{key}={value}"]
        return self._backup(args, chunks, on_progress)

    def backup_paths(
        self, paths: Sequence[str], tags: Mapping[str, str], ok_partial: bool = False
    ) -> BackupSummary:
        """``restic backup PATH...`` (used by the benchmark for the plain-restic baseline)."""
        args = ["backup", "--json", "--host", self.host, *paths]
        for key, value in tags.items():
            args += ["--tag", f"{key}={value}"]
        return self._backup(args, None, None, ok_partial)

    def _backup(
        self,
        args: list[str],
        chunks: Iterable[bytes] | None,
        on_progress: Callable[[dict[str, Any]], None] | None,
        ok_partial: bool = False,
    ) -> BackupSummary:
        summary: dict[str, Any] = {}
        pending = bytearray()

        def lines(data: bytes) -> None:
            pending.extend(data)
            while b"\n" in pending:
                line, _, rest = bytes(pending).partition(b"\n")
                pending[:] = rest
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("message_type") == "summary":
                    summary.update(msg)
                elif msg.get("message_type") == "status" and on_progress is not None:
                    on_progress(msg)

        result = self.call(
            *args, stdin_chunks=chunks, on_stdout=lines, ok_codes=(0, 3) if ok_partial else (0,)
        )
        lines(b"\n")
        if not summary:
            raise ResticError(f"restic backup: no summary in its output ({result.stderr_tail!r})")
        return BackupSummary.from_json(summary, partial=result.returncode == 3)

    # -- reading -----------------------------------------------------------------------------
    def snapshots(self, tags: Mapping[str, str] | None = None) -> list[Snapshot]:
        """Snapshots having every ``key=value`` tag, oldest first."""
        args = ["snapshots", "--no-lock"]
        if tags:
            args += ["--tag", ",".join(f"{k}={v}" for k, v in tags.items())]
        return [Snapshot.from_json(s) for s in self.json(*args) or []]

    def file_size(self, snapshot_id: str, path: str) -> int:
        """Size of ``path`` in the snapshot (``restic ls --json``)."""
        out = self.call("ls", "--no-lock", "--json", snapshot_id, path).stdout
        for line in out.splitlines():
            try:
                node = json.loads(line)
            except ValueError:
                continue
            if node.get("struct_type") == "node" and node.get("path") == path:
                return int(node.get("size", 0))
        raise ResticError(f"restic ls: {path} is not in snapshot {snapshot_id[:8]}")

    def dump(self, snapshot_id: str, path: str, sink: Callable[[bytes], None]) -> None:
        """Stream ``path`` of the snapshot into ``sink`` chunk by chunk."""
        self.call("dump", "--no-lock", snapshot_id, path, on_stdout=sink)

    def dump_bytes(self, snapshot_id: str, path: str) -> bytes:
        return self.call("dump", "--no-lock", snapshot_id, path).stdout

    def dump_chunks(self, snapshot_id: str, path: str) -> Iterator[bytes]:
        """``restic dump`` as an iterator (restic runs in a thread, a bounded queue between)."""
        q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=32)

        def work() -> None:
            try:
                self.dump(snapshot_id, path, q.put)
                q.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader
                q.put(exc)

        thread = threading.Thread(target=work, daemon=True, name="restic-dump")
        thread.start()
        while True:
            item = q.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        thread.join()

    def stats(self) -> dict[str, Any]:
        """``restic stats --mode raw-data``: total_size (bytes stored in the repository)."""
        data = self.json("stats", "--no-lock", "--mode", "raw-data")
        return dict(data or {})

    # -- maintenance -------------------------------------------------------------------------
    def forget_prune(self, daily: int, weekly: int, monthly: int) -> str:
        """Apply the retention policy per host and path (each part of each item); prune."""
        res = self.call(
            "forget",
            "--prune",
            "--group-by",
            "host,paths",
            "--keep-daily",
            str(daily),
            "--keep-weekly",
            str(weekly),
            "--keep-monthly",
            str(monthly),
        )
        return _last_line(res.text)

    def check(self, subset: str | None = None) -> str:
        """``restic check`` (``--read-data-subset=subset`` when given, e.g. ``3/7`` or
        ``100%``); returns its last line, raises ResticError when errors were found."""
        args = ["check"]
        if subset:
            args.append(f"--read-data-subset={subset}")
        return _last_line(self.call(*args).text)

    def locks(self) -> list[Lock]:
        """Every lock file in the repository, with its holder."""
        ids = self.call("list", "locks", "--no-lock").text.split()
        found: list[Lock] = []
        for lock_id in ids:
            try:
                data = json.loads(self.call("cat", "lock", lock_id, "--no-lock").stdout)
            except ResticError:
                continue  # removed meanwhile
            found.append(
                Lock(
                    id=lock_id,
                    hostname=str(data.get("hostname", "")),
                    pid=int(data.get("pid", 0)),
                    exclusive=bool(data.get("exclusive", False)),
                    time=str(data.get("time", "")),
                )
            )
        return found

    def unlock(self) -> None:
        """``restic unlock``: removes only stale locks (holder dead on this host, or not
        refreshed for 30 minutes); a live holder's lock stays."""
        self.call("unlock", timeout=300)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""

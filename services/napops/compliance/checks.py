"""The hardening checks: pure functions of a :class:`Workload` and the check's parameters.

Each check has a stable id, the CIS Docker Benchmark (v1.6) number where there is one, and
returns a :class:`Verdict`: ``pass``, ``fail`` with a reason, or ``n/a`` with a reason (a
runtime-only fact in a static audit). A reason never contains a secret's value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .workload import Workload

ROOT_USERS = {"", "0", "root"}
SENSITIVE_PATHS = (
    "/",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/proc",
    "/sys",
    "/usr",
    "/var/run",
    "/run",
)
SOCKET_NAMES = ("docker.sock",)
SECRET_NAME = re.compile(
    r"(PASS(WORD)?|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|_KEY$|^KEY$)", re.I
)
RESTART_OK = ("always", "unless-stopped", "on-failure", "any")


@dataclass(frozen=True)
class Verdict:
    result: str  # pass, fail, n/a
    reason: str = ""


PASS = Verdict("pass")


def fail(reason: str) -> Verdict:
    return Verdict("fail", reason)


def na(reason: str) -> Verdict:
    return Verdict("n/a", reason)


@dataclass(frozen=True)
class Check:
    id: str
    cis: str  # "" when the benchmark has no such check
    title: str
    func: Callable[[Workload, dict[str, Any]], Verdict]


def _user(w: Workload, p: dict[str, Any]) -> Verdict:
    effective = w.user or (w.image_user or "")
    name = effective.split(":", 1)[0]
    if name in ROOT_USERS:
        where = "the image's user" if not w.user and w.image_user is not None else "user"
        return fail(f"{where} is {effective or 'unset (root)'!s}")
    return PASS


def _privileged(w: Workload, p: dict[str, Any]) -> Verdict:
    return fail("runs privileged") if w.privileged else PASS


def _capabilities(w: Workload, p: dict[str, Any]) -> Verdict:
    drop = {c.upper().removeprefix("CAP_") for c in w.cap_drop}
    if "ALL" not in drop:
        return fail("capabilities not dropped (cap_drop lacks ALL)")
    allowed = {c.upper().removeprefix("CAP_") for c in p.get("allowed_add", [])}
    extra = sorted({c.upper().removeprefix("CAP_") for c in w.cap_add} - allowed)
    if extra:
        return fail(f"adds capabilities not allowed: {', '.join(extra)}")
    return PASS


def _no_new_privileges(w: Workload, p: dict[str, Any]) -> Verdict:
    opts = {o.replace("=", ":").lower() for o in w.security_opt}
    if "no-new-privileges:true" in opts or "no-new-privileges" in opts:
        return PASS
    return fail("no-new-privileges is not set")


def _read_only(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if w.read_only else fail("root filesystem is writable")


def _memory(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if w.memory_bytes > 0 else fail("no memory limit")


def _cpu(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if w.nano_cpus > 0 else fail("no CPU limit")


def _pids(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if w.pids_limit > 0 else fail("no pids limit")


def _health_defined(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if w.healthcheck else fail("no healthcheck")


def _health_now(w: Workload, p: dict[str, Any]) -> Verdict:
    if w.source == "static":
        return na("health is known only at runtime")
    if not w.healthcheck:
        return na("no healthcheck to report")
    if w.health == "healthy":
        return PASS
    return fail(f"health is {w.health or 'unknown'}")


def _restart(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if w.restart in RESTART_OK else fail(f"restart policy is {w.restart or 'none'}")


def _namespace(attr: str, what: str) -> Callable[[Workload, dict[str, Any]], Verdict]:
    def check(w: Workload, p: dict[str, Any]) -> Verdict:
        return fail(f"shares the host's {what} namespace") if getattr(w, attr) == "host" else PASS

    return check


def _is_socket(source: str) -> bool:
    return any(source.rstrip("/").endswith(name) for name in SOCKET_NAMES)


def _sensitive_mounts(w: Workload, p: dict[str, Any]) -> Verdict:
    allowed = {(a["service"], a["source"].rstrip("/") or "/") for a in p.get("allowed", [])}
    bad = []
    for m in w.mounts:
        if m.kind != "bind" or _is_socket(m.source):
            continue
        src = m.source.rstrip("/") or "/"
        sensitive = any(src == s or (s != "/" and src.startswith(s + "/")) for s in SENSITIVE_PATHS)
        if not sensitive:
            continue
        if (w.name, src) in allowed and m.read_only:
            continue
        bad.append(f"{src}{'' if m.read_only else ' (writable)'}")
    return fail("mounts sensitive host paths: " + ", ".join(sorted(bad))) if bad else PASS


def _docker_socket(w: Workload, p: dict[str, Any]) -> Verdict:
    mounts = [m for m in w.mounts if _is_socket(m.source)]
    if not mounts:
        return PASS
    if w.name not in p.get("allowed_services", []):
        return fail("mounts the Docker socket")
    writable = [m.source for m in mounts if not m.read_only]
    return fail("mounts the Docker socket writable") if writable else PASS


def _opt_disabled(kind: str) -> Callable[[Workload, dict[str, Any]], Verdict]:
    def check(w: Workload, p: dict[str, Any]) -> Verdict:
        for opt in w.security_opt:
            key, _, value = opt.replace("=", ":").partition(":")
            if key.lower() == kind and value.lower() == "unconfined":
                return fail(f"{kind} is disabled ({opt})")
        return PASS

    return check


def _ports(w: Workload, p: dict[str, Any]) -> Verdict:
    allowed = {
        (a["service"], str(port)) for a in p.get("allowed_public", []) for port in a["ports"]
    }
    public = [
        port.host_port
        for port in w.ports
        if port.host_ip in ("", "0.0.0.0", "::") and (w.name, port.host_port) not in allowed
    ]
    if public:
        return fail("publishes on every interface: " + ", ".join(sorted(set(public))))
    return PASS


def image_is_pinned(image: str) -> bool:
    """A digest, or a tag that names a version (not `latest`, not missing)."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return tag != "latest" and any(ch.isdigit() for ch in tag)


def _pinned(w: Workload, p: dict[str, Any]) -> Verdict:
    return PASS if image_is_pinned(w.image) else fail(f"image {w.image!r} is not pinned")


def _logs(w: Workload, p: dict[str, Any]) -> Verdict:
    if w.log_driver not in ("json-file", "local") or not w.log_options.get("max-size"):
        return fail(f"logs not rotated (driver {w.log_driver or 'default'}, no max-size)")
    return PASS


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


TOKEN_LIKE = re.compile(r"^[A-Za-z0-9+/=_\-.]{20,}$")
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@", re.I)


def secret_like(name: str, value: str, min_entropy: float = 4.0) -> bool:
    """A variable that holds a secret: by its name (with a literal value), by a password inside
    a URL, or by a token-like random value. Pointers to secrets (``*_FILE``, paths, empty
    values) and URLs without credentials are fine."""
    if not value or name.upper().endswith("_FILE") or value.startswith("/"):
        return False
    if URL_PASSWORD.match(value):
        return True
    if "://" in value:
        return False
    if SECRET_NAME.search(name):
        return True
    return bool(TOKEN_LIKE.match(value)) and entropy(value) >= min_entropy


def _env_secrets(w: Workload, p: dict[str, Any]) -> Verdict:
    ignore = set(p.get("ignore_names", []))
    found = sorted(
        name
        for name, value in w.environment.items()
        if name not in ignore and secret_like(name, value, float(p.get("min_entropy", 4.0)))
    )
    if found:
        return fail("secret-looking environment variables: " + ", ".join(found))
    return PASS


CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        Check("user_non_root", "4.1", "runs as a non-root user", _user),
        Check("not_privileged", "5.4", "not privileged", _privileged),
        Check(
            "capabilities",
            "5.3",
            "ALL capabilities dropped, only allowed ones added",
            _capabilities,
        ),
        Check("no_new_privileges", "5.25", "no-new-privileges set", _no_new_privileges),
        Check("read_only_rootfs", "5.12", "read-only root filesystem", _read_only),
        Check("memory_limit", "5.10", "memory limited", _memory),
        Check("cpu_limit", "5.11", "CPU limited", _cpu),
        Check("pids_limit", "5.28", "pids limited", _pids),
        Check("healthcheck_defined", "5.26", "a healthcheck is defined", _health_defined),
        Check("healthy", "5.26", "the healthcheck passes now", _health_now),
        Check("restart_policy", "5.14", "a restart policy is set", _restart),
        Check(
            "host_network",
            "5.9",
            "no host network namespace",
            _namespace("network_mode", "network"),
        ),
        Check("host_pid", "5.15", "no host PID namespace", _namespace("pid_mode", "PID")),
        Check("host_ipc", "5.16", "no host IPC namespace", _namespace("ipc_mode", "IPC")),
        Check("host_uts", "5.20", "no host UTS namespace", _namespace("uts_mode", "UTS")),
        Check("sensitive_mounts", "5.5", "no sensitive host path mounted", _sensitive_mounts),
        Check(
            "docker_socket",
            "5.31",
            "Docker socket not mounted (except allowed, read-only)",
            _docker_socket,
        ),
        Check("seccomp", "5.21", "default seccomp profile not disabled", _opt_disabled("seccomp")),
        Check("apparmor", "5.1", "AppArmor not disabled", _opt_disabled("apparmor")),
        Check("ports_interface", "5.13", "ports published only on intended interfaces", _ports),
        Check("image_pinned", "", "image pinned to a version or digest", _pinned),
        Check("log_rotation", "", "logs rotated", _logs),
        Check("env_secrets", "4.10", "no secret in the environment", _env_secrets),
    )
}

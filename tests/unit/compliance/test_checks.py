"""Each check on workloads built the way the adapters build them: one finding per violation."""

from __future__ import annotations

import datetime as dt

import pytest

from napops.compliance.audit import audit, failures, ratio
from napops.compliance.checks import CHECKS, entropy, image_is_pinned, secret_like
from napops.compliance.policy import Policy, Waiver, parse
from napops.compliance.workload import Mount, Port, from_compose, from_inspect, parse_bytes

HARDENED = {
    "image": "napops/napops:0.1.0",
    "user": "65532:65532",
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "restart": "unless-stopped",
    "deploy": {"resources": {"limits": {"cpus": "0.5", "memory": "256M", "pids": 256}}},
    "healthcheck": {"test": ["CMD", "true"]},
    "logging": {"driver": "json-file", "options": {"max-size": "10m"}},
    "environment": {"TOKEN_FILE": "/run/secrets/token", "TZ": "Asia/Bangkok"},
    "ports": [{"host_ip": "127.0.0.1", "published": "9090", "target": 9090}],
    "volumes": [{"type": "volume", "source": "data", "target": "/data"}],
}


def failing(svc: dict, policy: Policy | None = None) -> dict[str, str]:
    w = from_compose("svc", svc, "stack")
    return {f.check: f.reason for f in failures(audit([w], policy or Policy()))}


def test_a_hardened_service_passes_every_check():
    assert failing(HARDENED) == {}


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"user": "0:0"}, "user_non_root"),
        ({"user": ""}, "user_non_root"),
        ({"privileged": True}, "not_privileged"),
        ({"cap_drop": []}, "capabilities"),
        ({"cap_add": ["NET_ADMIN"]}, "capabilities"),
        ({"security_opt": []}, "no_new_privileges"),
        ({"read_only": False}, "read_only_rootfs"),
        ({"deploy": {"resources": {"limits": {"cpus": "1", "pids": 10}}}}, "memory_limit"),
        ({"deploy": {"resources": {"limits": {"memory": "1g", "pids": 10}}}}, "cpu_limit"),
        ({"deploy": {"resources": {"limits": {"memory": "1g", "cpus": "1"}}}}, "pids_limit"),
        ({"healthcheck": {"test": ["NONE"]}}, "healthcheck_defined"),
        ({"healthcheck": {"test": ["CMD", "true"], "disable": True}}, "healthcheck_defined"),
        ({"restart": "no"}, "restart_policy"),
        ({"network_mode": "host", "ports": []}, "host_network"),
        ({"pid": "host"}, "host_pid"),
        ({"ipc": "host"}, "host_ipc"),
        ({"uts": "host"}, "host_uts"),
        (
            {"volumes": [{"type": "bind", "source": "/etc", "target": "/host/etc"}]},
            "sensitive_mounts",
        ),
        (
            {"volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]},
            "docker_socket",
        ),
        ({"security_opt": ["no-new-privileges:true", "seccomp:unconfined"]}, "seccomp"),
        ({"security_opt": ["no-new-privileges:true", "apparmor=unconfined"]}, "apparmor"),
        ({"ports": [{"host_ip": "0.0.0.0", "published": "80", "target": 80}]}, "ports_interface"),
        ({"ports": [{"published": "80", "target": 80}]}, "ports_interface"),
        ({"image": "nginx:latest"}, "image_pinned"),
        ({"image": "nginx"}, "image_pinned"),
        ({"logging": {"driver": "json-file"}}, "log_rotation"),
        ({"logging": {}}, "log_rotation"),
        ({"environment": {"DB_PASSWORD": "hunter2hunter2"}}, "env_secrets"),
        ({"environment": {"X": "q8Zr3vN0pLw6Yt1Ks9Hd2Fj5"}}, "env_secrets"),
    ],
)
def test_each_violation_is_one_finding_of_its_check(change, check):
    got = failing({**HARDENED, **change})
    assert list(got) == [check], got


def test_secret_values_never_appear_in_reasons():
    got = failing({**HARDENED, "environment": {"DB_PASSWORD": "hunter2hunter2"}})
    assert "DB_PASSWORD" in got["env_secrets"] and "hunter2" not in got["env_secrets"]


def test_secret_pointers_are_not_secrets():
    assert not secret_like("DB_PASSWORD_FILE", "/run/secrets/db")
    assert not secret_like("JWT_SECRET", "")
    assert not secret_like("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin")
    assert not secret_like("TZ", "Asia/Bangkok")
    assert secret_like("AUTH_SECRET", "abc")
    assert secret_like("MONGO_URL", "mongodb://rc:" + "s3cret" + "@mongodb:27017/rocketchat")
    assert not secret_like("MONGO_URL", "mongodb://mongodb:27017/rocketchat?replicaSet=rs0")
    assert not secret_like("GF_SERVER_ROOT_URL", "https://grafana.np-dms.work/x/y/z/abcdefgh")
    assert not secret_like("NGINX_ENVSUBST_FILTER", "^(NAPOPS_|DOMAIN|UPSTREAM_)[A-Z_]*$")
    assert entropy("aaaa") == 0 and entropy("ab") == 1


def test_allowlists_of_the_policy():
    policy = parse(
        {
            "checks": {
                "capabilities": {"allowed_add": ["CHOWN"]},
                "sensitive_mounts": {"allowed": [{"service": "svc", "source": "/proc"}]},
                "docker_socket": {"allowed_services": ["svc"]},
                "ports_interface": {"allowed_public": [{"service": "svc", "ports": [443]}]},
            }
        }
    )
    ok = {
        **HARDENED,
        "cap_add": ["CHOWN"],
        "volumes": [
            {"type": "bind", "source": "/proc", "target": "/host/proc", "read_only": True},
            {"type": "bind", "source": "/var/run/docker.sock", "target": "/s", "read_only": True},
        ],
        "ports": [{"host_ip": "", "published": "443", "target": 443}],
    }
    assert failing(ok, policy) == {}
    writable = {**ok, "volumes": [{"type": "bind", "source": "/proc", "target": "/p"}]}
    assert list(failing(writable, policy)) == ["sensitive_mounts"]
    sock_rw = {
        **ok,
        "volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}],
    }
    assert failing(sock_rw, policy)["docker_socket"] == "mounts the Docker socket writable"


def test_waivers_count_until_they_expire():
    waiver = Waiver(
        "user_non_root", "svc", None, "image needs root to chown its volume", dt.date(2027, 1, 31)
    )
    policy = Policy(waivers=[waiver])
    w = from_compose("svc", {**HARDENED, "user": "root"}, "stack")
    before = audit([w], policy, today=dt.date(2027, 1, 31))
    (f,) = [f for f in before if f.check == "user_non_root"]
    assert f.result == "waived" and f.waiver_expires == "2027-01-31"
    after = audit([w], policy, today=dt.date(2027, 2, 1))
    (g,) = [f for f in after if f.check == "user_non_root"]
    assert g.result == "fail" and "waiver expired on 2027-01-31" in g.reason
    other_stack = Policy(
        waivers=[Waiver("user_non_root", "svc", "other", "reason long enough", dt.date(2099, 1, 1))]
    )
    assert [f.result for f in audit([w], other_stack) if f.check == "user_non_root"] == ["fail"]


def test_bad_policies_report_every_problem_with_its_path():
    with pytest.raises(Exception) as err:
        parse(
            {
                "disabled": ["no_such_check"],
                "checks": {"nope": {}},
                "waivers": [
                    {"check": "user_non_root", "service": "x"},
                    {
                        "check": "bogus",
                        "service": "x",
                        "reason": "long enough reason",
                        "expires": "2027-13-01",
                    },
                ],
            },
            "policy.yml",
        )
    problems = err.value.problems
    text = "\n".join(problems)
    assert "At 'policy.yml:disabled[0]'" in text
    assert "At 'policy.yml:checks.nope': unknown key" in text
    assert "At 'policy.yml:waivers[0].reason': required but missing" in text
    assert "At 'policy.yml:waivers[0].expires': required but missing" in text
    assert "At 'policy.yml:waivers[1].check'" in text
    assert "At 'policy.yml:waivers[1].expires': not a date" in text


def test_runtime_inspect_maps_to_the_same_workload():
    attrs = {
        "Name": "/napops-dev-relay-1",
        "Image": "sha256:abc",
        "Config": {
            "Image": "napops/napops:0.1.0",
            "User": "",
            "Labels": {
                "com.docker.compose.project": "napops-dev",
                "com.docker.compose.service": "relay",
            },
            "Healthcheck": {"Test": ["CMD", "true"]},
            "Env": ["A=1", "API_TOKEN=xyz"],
        },
        "HostConfig": {
            "Privileged": True,
            "CapDrop": None,
            "Memory": 0,
            "NanoCpus": 0,
            "CpuQuota": 50000,
            "CpuPeriod": 100000,
            "PidsLimit": None,
            "RestartPolicy": {"Name": "no"},
            "NetworkMode": "host",
            "LogConfig": {"Type": "json-file", "Config": {}},
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
        },
        "State": {"Health": {"Status": "unhealthy"}},
        "Mounts": [
            {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/s", "RW": True}
        ],
    }
    w = from_inspect(attrs, image_user="root")
    assert (w.stack, w.name, w.container) == ("napops-dev", "relay", "napops-dev-relay-1")
    assert w.nano_cpus == 500_000_000 and w.mounts == [
        Mount("/var/run/docker.sock", "/s", "bind", False)
    ]
    assert w.ports == [Port("", "8080", "80/tcp")]
    got = {f.check for f in failures(audit([w], Policy()))}
    assert got == {
        "user_non_root",
        "not_privileged",
        "capabilities",
        "no_new_privileges",
        "read_only_rootfs",
        "memory_limit",
        "pids_limit",
        "healthy",
        "restart_policy",
        "host_network",
        "docker_socket",
        "ports_interface",
        "log_rotation",
        "env_secrets",
    }


def test_every_check_has_a_title_and_the_ratio_counts_waived_as_good():
    assert all(c.title for c in CHECKS.values())
    assert parse_bytes("256M") == 256 << 20 and parse_bytes("1.5g") == int(1.5 * (1 << 30))
    w = from_compose("svc", {**HARDENED, "privileged": True}, "apps")
    r = ratio(audit([w], Policy()))["apps"]
    assert 0 < r < 1
    assert image_is_pinned("mariadb:11.8") and not image_is_pinned("registry:5000/app")

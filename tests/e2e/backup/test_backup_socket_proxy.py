"""The backup sidecar's Docker access through the socket proxy the estate gives it: enough,
and no more.

The proxy runs with exactly the environment of the rendered agents stack's
`socket-proxy-backup` (prod, as the QNAP runs it: the ASUSTOR's backup sidecar reaches it over
ssh://, docs/backup.md). A backup of real MariaDB, Redis and a volume (with its container
stopped and restarted), restores into scratch containers and the drill job run through it:
the proxy refuses none of their requests, and the switches it has on are exactly those the
requests needed (derived from the proxy's own haproxy.cfg, support/socket_proxy.py), plus
PING for the sidecar's /readyz.
"""

from __future__ import annotations

import pytest
from conftest import Estate, Napops, docker, maria
from estate import Estate as EstateTool
from estate import Selection
from support import socket_proxy

from helpers import require_docker

pytestmark = pytest.mark.e2e


def rendered_proxy_env(service: str) -> dict[str, object]:
    model = EstateTool().render(Selection.stack("prod", "agents", "qnap"))
    return dict(model["services"][service]["environment"])


def test_backup_restore_and_drill_pass_the_proxy_with_exactly_what_they_need(
    estate: Estate, napops: Napops
) -> None:
    require_docker()
    with socket_proxy.started(rendered_proxy_env("socket-proxy-backup"), estate.prefix) as proxy:
        m = estate.mariadb()
        maria(m, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_50;")
        r = estate.redis()
        docker("exec", r, "redis-cli", "SET", "k", "v")
        f = estate.files()
        docker("exec", f, "sh", "-c", "echo hello > /srv/uploads/x.txt")
        napops.item("mariadb", "mariadb", m, databases=["app"])
        napops.item("cache", "redis", r)
        napops.item(
            "uploads", "files", f, paths=["/srv/uploads"], stop=True, stop_timeout_seconds=2
        )
        napops.env["DOCKER_HOST"] = proxy.url

        code, run = napops.run_json("backup", "run")
        assert code == 0 and run["state"] == "success", run
        # bytes progress: the dumps' bytes as restic counted them
        assert run["bytes_done"] >= run["summary"]["bytes_processed"] > 0, run
        for service in ("mariadb", "cache", "uploads"):
            code, out = napops.run_json("restore", service, "--to", "scratch")
            assert code == 0 and out[0]["ok"], out
        code, run = napops.run_json("jobs", "run", "backup", "drill")
        assert code == 0 and run["state"] == "success", run

        requests = proxy.requests()
        assert requests, "the proxy logged no request"
        refused = [f"{q.method} {q.path} -> {q.status}" for q in requests if q.status == 403]
        assert not refused, "the proxy refused what the backup needs:\n" + "\n".join(refused)
        wanted = socket_proxy.needed(requests) | {"PING"}
        assert proxy.enabled() == wanted, (
            f"socket-proxy-backup allows {sorted(proxy.enabled() - wanted)} that nothing "
            f"asked for, and lacks {sorted(wanted - proxy.enabled())}"
        )

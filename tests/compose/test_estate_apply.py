"""`estate up` / `estate diff` without an engine: bad input is exit 2 with `At '...'` lines and
touches nothing; each host's engine (and only it) is what Docker is run with; the comparison
of a project's containers with its files decides as `docker compose up` does (Compose's
config-hash label and image-id label). The real runs are tests/e2e/test_estate_up.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from estate import (
    HASH_LABEL,
    IMAGE_LABEL,
    SERVICE_LABEL,
    Applier,
    DiffReport,
    Estate,
    HostDiff,
    HostReport,
    PlacementError,
    StackDiff,
    StackReport,
    UpReport,
    changed_containers,
    compare,
    diff_lines,
    up_lines,
)

from helpers import ROOT

TOOL = ROOT / "compose" / "bin" / "estate"
GOOD = (
    "environments:\n  dev:\n    hosts:\n      one:\n"
    "        docker_host: unix:///nonexistent.sock\n        stacks: [one]\n"
)


def scratch(tmp_path: Path, hosts: str = GOOD) -> Path:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "one.yml").write_text("name: x\nservices: {}\n")
    (tmp_path / "env" / "dev").mkdir(parents=True)
    (tmp_path / "hosts.yml").write_text(hosts)
    return tmp_path


def tool(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), "--compose-dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["up", "diff"])
@pytest.mark.parametrize(
    ("args", "hosts", "expected"),
    [
        (["--env", "nope"], GOOD, "unknown environment 'nope'"),
        (["--env", "dev", "--host", "two"], GOOD, "dev has no host 'two' (hosts: one)"),
        (
            ["--env", "dev"],
            "environments:\n  dev:\n    hosts:\n      one:\n\tdocker_host: x\n",
            "At 'compose/hosts.yml:5': a tab in the indentation",
        ),
        (
            ["--env", "dev"],
            "environments:\n  dev:\n    hosts:\n      one:\n        stacks: [one]\n"
            "        docker_host: http://x\n      two:\n        docker_host: unix:///x\n"
            "        stacks: [one]\n        docker_cert_path: certs\n",
            "At 'environments.dev.hosts.one.docker_host': 'http://x' is not unix://, ssh:// "
            "or tcp://\nAt 'environments.dev.hosts.two.docker_cert_path': a folder (ca.pem, "
            "cert.pem, key.pem), for a tcp:// docker_host only",
        ),
        (["--env", "dev"], "environments: {}\n", "places nothing for environment 'dev'"),
    ],
)
def test_bad_input_is_exit_2_with_the_reason(
    tmp_path: Path, command: str, args: list[str], hosts: str, expected: str
) -> None:
    proc = tool(scratch(tmp_path, hosts), command, *args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_a_stack_file_without_a_name_is_refused(tmp_path: Path) -> None:
    """Compose would name its project after the folder (`stacks`), shared by every nameless
    stack of the host."""
    folder = scratch(tmp_path)
    (folder / "stacks" / "one.yml").write_text("services: {}\n")
    proc = tool(folder, "up", "--env", "dev", "--json")
    assert proc.returncode == 3, proc.stderr
    [stack] = json.loads(proc.stdout)["hosts"][0]["stacks"]
    assert stack["result"] == "invalid", stack
    assert stack["reason"].startswith("the stack file sets no `name:`"), stack


def test_a_broken_hosts_yml_is_a_placement_error(tmp_path: Path) -> None:
    estate = Estate(scratch(tmp_path, "environments:\n  dev: [a\n"))
    with pytest.raises(PlacementError, match="^At 'compose/hosts.yml:2': a list"):
        estate.hosts("dev")


def test_each_host_is_reached_through_its_own_engine_only(tmp_path: Path) -> None:
    hosts = (
        "environments:\n  dev:\n    hosts:\n"
        "      qnap:\n        docker_host: ssh://napops@qnap\n        stacks: [one]\n"
        "      tls:\n        docker_host: tcp://box:2376\n        stacks: [one]\n"
        "        docker_cert_path: certs/box\n"
    )
    estate = Estate(scratch(tmp_path, hosts))
    caller = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "DOCKER_HOST": "unix:///var/run/docker.sock",
        "DOCKER_CONTEXT": "somewhere",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": "/home/me/.docker",
        "BACKEND_VERSION": "from-my-shell",
    }
    applier = Applier(estate, environ=caller)
    assert applier.engine_environment(estate.host("dev", "qnap")) == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "DOCKER_HOST": "ssh://napops@qnap",
    }
    assert applier.engine_environment(estate.host("dev", "tls")) == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "DOCKER_HOST": "tcp://box:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path / "certs" / "box"),
    }


def container(
    service: str,
    image: str = "app:1",
    config_hash: str = "h1",
    image_id: str = "sha256:one",
    status: str = "running",
    health: str = "healthy",
) -> dict[str, Any]:
    labels = {SERVICE_LABEL: service, HASH_LABEL: config_hash, IMAGE_LABEL: image_id}
    state: dict[str, Any] = {"Status": status, "ExitCode": 0 if status == "running" else 137}
    if health:
        state["Health"] = {"Status": health, "Log": [{"ExitCode": 0, "Output": "ok"}]}
    return {"Name": f"/p-{service}-1", "Config": {"Image": image, "Labels": labels}, "State": state}


def model(**images: str) -> dict[str, Any]:
    return {"name": "p", "services": {name: {"image": image} for name, image in images.items()}}


def actions(found: list[Any]) -> dict[str, str]:
    return {d.service: d.action for d in found}


def test_compare_decides_as_compose_up_does() -> None:
    ids = {"app:1": "sha256:one", "app:2": "sha256:two", "gone:1": None}
    found = compare(
        model(
            same="app:1",
            edited="app:1",
            rebuilt="app:1",
            newer="app:2",
            new="app:1",
            stopped="app:1",
            unpulled="gone:1",
        ),  # fmt: skip
        {
            "same": "h1",
            "edited": "h2",
            "rebuilt": "h1",
            "newer": "h3",
            "new": "h1",
            "stopped": "h1",
            "unpulled": "h1",
        },  # fmt: skip
        [
            container("same"),
            container("edited"),  # a variable changed: another config hash
            container("rebuilt", image_id="sha256:old"),  # same tag, another image
            container("newer", config_hash="h1"),  # the image variable changed
            container("stopped", status="exited", health=""),
            container("unpulled", image="gone:1"),
            container("removed"),  # no longer in the files
        ],
        ids,
    )
    assert actions(found) == {
        "edited": "recreate",
        "new": "create",
        "newer": "recreate",
        "rebuilt": "recreate",
        "same": "none",
        "stopped": "start",
        "unpulled": "pull",
        "removed": "remove",
    }
    by = {d.service: d for d in found}
    assert by["newer"].reasons == [
        "configuration changed (config hash h1 -> h3)",
        "image app:1 -> app:2",
    ]
    assert by["rebuilt"].reasons == [
        "app:1 is now sha256:one, the container was made from sha256:old"
    ]
    assert by["stopped"].reasons == ["the container is exited 137"]
    assert by["same"].reasons == [] and by["same"].running["state"] == "healthy"
    assert "up removes it" in by["removed"].reasons[0]


def test_an_image_a_deploy_put_in_place_is_noted_not_changed() -> None:
    # the deploy sidecar's container keeps blue's Compose labels (docs/deploy.md): Compose
    # leaves it, so does the diff, but says so
    deployed = container("backend", image="app:2")
    [found] = compare(
        model(backend="app:1"), {"backend": "h1"}, [deployed], {"app:1": "sha256:one"}
    )
    assert found.action == "none"
    assert found.notes == [
        "runs app:2 (a deploy?) where the files say app:1; Compose's hash matches, so up keeps it"
    ]


def test_the_containers_compose_changed_are_read_from_its_output() -> None:
    output = (
        " Network p_default  Creating\n Container p-db-1  Running\n"
        " Container p-web-1  Recreate\n Container p-web-1  Recreated\n"
        " Container p-new-1  Creating\n Container p-new-1  Created\n Container p-new-1  Starting\n"
        " Container p-new-1  Started\n Container p-db-1  Waiting\n Container p-db-1  Healthy\n"
    )
    assert changed_containers(output) == ["p-web-1", "p-new-1"]
    assert changed_containers(" Container p-db-1  Running\n Container p-db-1  Healthy\n") == []


def test_the_tables_say_what_happened() -> None:
    report = UpReport(
        "prod",
        [
            HostReport(
                "qnap",
                "ssh://napops@qnap",
                [
                    StackReport("data", "napops-prod-data", "healthy", "", 12.5, {}, ["x"]),
                    StackReport("apps", "napops-prod-apps", "failed", "backend unhealthy", 61.0),
                    StackReport("chat", "napops-prod-chat", "not started", "apps failed before it"),
                ],
                "failed",
                "stack apps failed",
            )
        ],
        "failed",
    )
    lines = up_lines(report)
    assert lines[0].split() == ["HOST", "STACK", "PROJECT", "RESULT", "SECONDS", "CHANGED"]
    assert lines[1].split() == ["qnap", "data", "napops-prod-data", "healthy", "12.5", "1"]
    assert "  qnap/apps: backend unhealthy" in lines
    assert lines[-1].startswith("estate prod: FAILED")
    assert report.status == 1
    found = compare(model(web="app:2"), {"web": "h2"}, [container("web")], {"app:2": "sha256:2"})
    diff = DiffReport("prod", [HostDiff("qnap", "ssh://x", [StackDiff("apps", "p", "", found)])])
    text = diff_lines(diff)
    assert text[1].split()[:4] == ["qnap", "apps", "web", "recreate"]
    assert text[-1] == "estate prod: 1 service(s) would change, 0 unchanged"
    assert diff.status == 1

"""Every Compose file secret can be 0600 and still be read by all of its readers.

Without Swarm a file secret is a bind mount of the host file, which a container reads only if it
runs as the file's owner. So in every environment the services reading one file under
compose/secrets/<env>/ must run as one numeric uid:gid (compose/bin/secrets-gen gives the file
to it). A value needed by readers running as different users is kept in copies
`<name>.<reader>`, each mounted as `/run/secrets/<name>` (compose/secrets/README.md).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest
from compose_render import COMPOSE, ENVS, STACKS, render

from helpers import require_docker

NUMERIC_USER = re.compile(r"\d+:\d+")

# (stack, service, user, secret key, path inside the container, the service's HOME) of one
# mounted secret
Mount = tuple[str, str, str, str, str, str]


def managed_mounts(env: str) -> dict[str, list[Mount]]:
    """Mounts of the files in compose/secrets/<env>/, by file name, over every stack of env."""
    folder = COMPOSE / "secrets" / env
    found: dict[str, list[Mount]] = {}
    for stack in STACKS:
        model = render(stack, env)
        files = {
            key: PurePosixPath(spec["file"])
            for key, spec in model.get("secrets", {}).items()
            if spec.get("file") and PurePosixPath(spec["file"]).parent == PurePosixPath(folder)
        }
        for key, file in files.items():
            found.setdefault(file.name, [])
            assert key == file.name, f"{stack}: secret {key} is the file {file.name}"
        for service, svc in model.get("services", {}).items():
            for ref in svc.get("secrets", []):
                if ref["source"] in files:
                    target = PurePosixPath("/run/secrets", ref.get("target") or ref["source"])
                    home = str((svc.get("environment") or {}).get("HOME") or "")
                    user = str(svc.get("user", ""))
                    mount = (stack, service, user, ref["source"], str(target), home)
                    found[files[ref["source"]].name].append(mount)
    return found


@pytest.mark.parametrize("env", ENVS)
def test_the_readers_of_each_secret_file_run_as_one_numeric_user(env: str) -> None:
    require_docker()
    mounts = managed_mounts(env)
    assert mounts, f"no secret file declared for {env}"
    problems = []
    for name, readers in sorted(mounts.items()):
        users = {user for _, _, user, *_ in readers}
        if len(users) != 1 or not NUMERIC_USER.fullmatch(next(iter(users))):
            who = ", ".join(
                f"{stack}/{svc} ({user or 'image user'})" for stack, svc, user, *_ in readers
            )
            problems.append(f"{name}: read by {who or 'no service'}")
    assert not problems, (
        f"{env}: each secret file needs exactly one numeric uid:gid among its readers (a 0600 file "
        "is readable only by its owner); give the other users copies `<name>.<reader>`:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("env", ENVS)
def test_a_copy_is_mounted_where_its_value_is_expected(env: str) -> None:
    """`<name>.<reader>` appears in the container as /run/secrets/<name>, so the configuration
    and entrypoints that read the secret need no change. The one other place is the service's
    own HOME: files a client library reads only there (docker-py's HOME/.ssh/ keys and
    known_hosts for an ssh:// engine, HOME/.docker/config.json for registry credentials)."""
    require_docker()
    wrong = [
        f"{stack}/{service}: {key} at {target}"
        for readers in managed_mounts(env).values()
        for stack, service, _, key, target, home in readers
        if target != f"/run/secrets/{key.split('.', 1)[0]}"
        and not (home.startswith("/") and PurePosixPath(target).is_relative_to(home))
    ]
    assert not wrong, f"{env}: secrets mounted elsewhere than /run/secrets/<name>:\n" + "\n".join(
        wrong
    )

"""What `make` prints around the local stack: no command echoed by `make down-purge`, the
list of images that cannot be built said once by `make up` (by stack-up, not build-images)."""

from __future__ import annotations

import os
import subprocess
import uuid

from helpers import ROOT


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("ENV", "CONFIRM")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=120,
    )


def test_down_purge_does_not_echo_its_command() -> None:
    # an engine that answers nothing: stack-down fails, but what make echoes shows first
    proc = make(
        "down-purge",
        NAPOPS_PROJECT=f"newcomer-never-started-{uuid.uuid4().hex[:6]}",
        DOCKER_HOST="unix:///nonexistent.sock",
    )
    assert "compose/bin/stack-down" not in proc.stdout + proc.stderr
    assert "CONFIRM=" not in proc.stdout


def test_make_up_asks_build_images_not_to_repeat_the_left_out_notice() -> None:
    dry = make("-n", "up", "ENV=dev")
    assert "NAPOPS_IMAGES_QUIET_LEFT_OUT=1 make" in dry.stdout
    script = (ROOT / "compose" / "bin" / "build-images").read_text()
    assert 'if [[ "${NAPOPS_IMAGES_QUIET_LEFT_OUT:-0}" != 1 ]]; then' in script

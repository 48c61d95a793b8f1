"""The compliance sidecar as a real process, for the tests that drive it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from helpers import free_port

TOKEN = "compliance-token-0123456789"


def start_compliance(
    directory: Path,
    docker_host: str,
    policy: Path,
    reports: str = "/nonexistent/*.json",
    health: dict[str, Any] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start napops-compliance on a free loopback port with its API token (``health``: the
    section's ``health`` options); returns the process (stdout and stderr piped) and its base
    URL. The caller stops it."""
    port = free_port()
    cfg = directory / "compliance.yml"
    cfg.write_text(
        f"listen: {{port: {port}}}\n"
        f"state_dir: {directory / 'state'}\n"
        f"docker: {{host: '{docker_host}', timeout_seconds: 5}}\n"
        f"compliance:\n  policy_file: {policy}\n"
        f"  vulnerabilities: {{report_files: ['{reports}']}}\n"
        + (f"  health: {yaml.safe_dump(health, default_flow_style=True)}" if health else ""),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from napops.compliance.main import main; sys.exit(main())",
            "--config",
            str(cfg),
        ],
        env={"NAPOPS__API__TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"

"""Entry point of the deploy sidecar (Gitea webhook receiver and blue-green deployer)."""

from __future__ import annotations

import os

from ..core import sidecar
from . import receiver
from .engine import Deployer, Settings
from .metrics import DeployMetrics
from .notify import each, relay_notifier, scan_requester
from .schema import SECTION
from .state import State

__all__ = ["SECTION", "main", "setup"]


def setup(ctx: sidecar.Context) -> None:
    section = ctx.section
    ctx.engine()  # /readyz: the sidecar's own engine answers
    state = State(
        os.path.join(ctx.config["state_dir"], "deploy.sqlite3"),
        section.get("webhook", {}).get("deliveries_kept", 10000),
    )
    metrics = DeployMetrics(ctx.registry)
    for live in state.live() if state.exists() else []:
        metrics.set_live(
            live["service"], live["environment"], live.get("image", ""), live.get("requested", "")
        )
    for service in section.get("services", {}):
        for environment in section.get("environments", {}):
            metrics.declare(service, environment)
    notifiers = []
    if "relay" in section:
        notifiers.append(relay_notifier(section["relay"]["url"], section["relay"]["token"]))
    if "url" in section.get("compliance", {}):  # (its `job` default makes the key exist)
        conf = section["compliance"]
        notifiers.append(scan_requester(conf["url"], conf["token"], conf["job"]))
    notify = each(*notifiers) if notifiers else None
    deployer = Deployer(
        Settings(section, ctx.config.get("docker") or {}),
        state,
        metrics,
        ctx.locks,
        ctx.audit,
        notify,
    )
    receiver.register(ctx.app, section, state, deployer, metrics)
    ctx.on_start.append(deployer.recover_all)
    ctx.on_shutdown += [deployer.close, state.close]


def main(argv: list[str] | None = None) -> int:
    return sidecar.run("deploy", SECTION, setup, argv)

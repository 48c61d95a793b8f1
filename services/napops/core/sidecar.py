"""Start-up shared by every sidecar: configuration, logging, metrics, HTTP server.

A sidecar supplies its name, the schema of its own config section and a ``setup`` function
that receives a :class:`Context` and wires its routes, ready checks and background work.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from prometheus_client import CollectorRegistry

from .. import __version__
from . import config as configmod
from . import logs
from .audit import AuditTrail
from .errors import ConfigError
from .http import ReadyCheck, Server, create_app
from .metrics import register_build_info
from .schema import Schema

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a sidecar's ``setup`` gets to work with."""

    service: str
    config: dict[str, Any]
    registry: CollectorRegistry
    app: Flask
    ready_checks: dict[str, ReadyCheck]
    audit: AuditTrail | None
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)

    @property
    def section(self) -> dict[str, Any]:
        """This sidecar's own configuration section."""
        value: dict[str, Any] = self.config.get(self.service, {})
        return value


Setup = Callable[[Context], None]


def load_config(service: str, section: Schema | None, path: str | None) -> dict[str, Any]:
    """Load the sidecar's configuration (raises ConfigError with every problem)."""
    return configmod.load(configmod.common_schema(service, section), path)


def build(
    service: str, section: Schema | None, config: dict[str, Any], setup: Setup | None = None
) -> Context:
    """Create registry, app, audit trail and run ``setup``: everything but serving."""
    registry = CollectorRegistry()
    register_build_info(registry, service)
    checks: dict[str, ReadyCheck] = {}
    app = create_app(service, registry, checks, config["max_body_bytes"])
    audit = None
    if "audit" in config:
        audit = AuditTrail(config["audit"]["path"], config["audit"]["key"], actor=service)
    ctx = Context(service, config, registry, app, checks, audit)
    if setup is not None:
        setup(ctx)
    return ctx


def run(service: str, section: Schema | None, setup: Setup | None, argv: list[str] | None) -> int:
    """Entry point body of a sidecar. Returns the process exit status (2: bad configuration)."""
    parser = argparse.ArgumentParser(
        prog=f"napops-{service}", description=f"napops {service} sidecar {__version__}"
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("NAPOPS_CONFIG"),
        help="YAML configuration file (default: $NAPOPS_CONFIG); NAPOPS__A__B=... overrides",
    )
    parser.add_argument(
        "--check-config", action="store_true", help="validate the configuration and exit"
    )
    args = parser.parse_args(argv)
    schema = configmod.common_schema(service, section)
    try:
        config = configmod.load(schema, args.config)
    except ConfigError as exc:
        print(f"napops-{service}: invalid configuration:", file=sys.stderr)
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    if args.check_config:
        print(f"napops-{service}: configuration is valid")
        return 0
    logs.setup(service, config["log_level"], configmod.secrets_of(config, schema))
    ctx = build(service, section, config, setup)
    server = Server(ctx.app, config["listen"]["host"], config["listen"]["port"])

    def _stop(signum: int, _frame: Any) -> None:
        log.info("stopping on signal %s", signum, extra={"event": "stop"})
        server.close()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "started %s on %s:%s",
        service,
        config["listen"]["host"],
        server.port,
        extra={"event": "start", "version": __version__},
    )
    try:
        server.run()
    except OSError:  # the listening socket closed by _stop
        pass
    finally:
        for hook in ctx.on_shutdown:
            hook()
    return 0

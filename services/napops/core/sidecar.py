"""Start-up shared by every sidecar: configuration, logging, metrics, HTTP server, jobs.

A sidecar supplies its name, the schema of its own config section and a ``setup`` function
that receives a :class:`Context`. ``setup`` only wires: routes, ready checks, jobs
(:meth:`Context.add_job`), and hooks. Background work starts in ``on_start`` hooks, which run
after the server is listening; on SIGTERM the server stops accepting, running jobs get
``shutdown_grace_seconds`` to finish (then are recorded as interrupted), and ``on_shutdown``
hooks run.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask
from prometheus_client import CollectorRegistry

from .. import __version__
from . import config as configmod
from . import jobs_http, logs
from .audit import AuditTrail
from .errors import ConfigError
from .http import ReadyCheck, Server, create_app
from .jobs import Job, JobError, Jobs, Overlap, RunContext
from .locks import Locks
from .metrics import register_build_info
from .reference import markdown
from .schema import Schema

if TYPE_CHECKING:  # docker-py (and paramiko) load only in a sidecar that uses an engine
    from .dockerhost import Engine

log = logging.getLogger(__name__)

Hook = Callable[[], None]


@dataclass
class Context:
    """What a sidecar's ``setup`` gets to work with."""

    service: str
    config: dict[str, Any]
    registry: CollectorRegistry
    app: Flask
    ready_checks: dict[str, ReadyCheck]
    audit: AuditTrail | None
    jobs: Jobs
    locks: Locks
    on_start: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    _engine: Engine | None = None

    @property
    def section(self) -> dict[str, Any]:
        """This sidecar's own configuration section."""
        value: dict[str, Any] = self.config.get(self.service, {})
        return value

    def add_job(
        self,
        name: str,
        func: Callable[[RunContext], dict[str, Any] | None],
        schedule: str | None = None,
        overlap: Overlap = "refuse",
        description: str = "",
        audited: bool = True,
    ) -> Job:
        """Declare a job (scheduled when ``schedule`` is a cron expression). ``audited=False``
        keeps a read-only job's runs out of the audit trail (they are still logged and
        counted in napops_job_*)."""
        return self.jobs.add(Job(name, func, schedule, overlap, description, audited))

    def engine(self) -> Engine:
        """The configured Docker Engine, made once; /readyz then checks that it answers."""
        if self._engine is None:
            from .dockerhost import Engine

            self._engine = Engine(self.config.get("docker"))
            self.ready_checks["docker"] = self._engine.ping
            self.on_shutdown.append(self._engine.close)
        return self._engine


Setup = Callable[[Context], None]


def load_config(service: str, section: Schema | None, path: str | None) -> dict[str, Any]:
    """Load the sidecar's configuration (raises ConfigError with every problem)."""
    return configmod.load(configmod.common_schema(service, section), path)


def build(
    service: str, section: Schema | None, config: dict[str, Any], setup: Setup | None = None
) -> Context:
    """Create registry, app, audit trail, jobs and locks, and run ``setup``: wiring only,
    nothing starts. Raises ConfigError when ``setup`` finds a problem (e.g. a bad schedule)."""
    registry = CollectorRegistry()
    register_build_info(registry, service)
    checks: dict[str, ReadyCheck] = {}
    app = create_app(service, registry, checks, config["max_body_bytes"])
    audit = None
    if "audit" in config:
        audit = AuditTrail(config["audit"]["path"], config["audit"]["key"], actor=service)
    jobs = Jobs(registry, audit, config["timezone"])
    locks = Locks(os.path.join(config["state_dir"], "locks"), registry)
    ctx = Context(service, config, registry, app, checks, audit, jobs, locks)
    if audit is not None:  # the genesis record of a fresh trail, and its record count
        ctx.on_start.append(lambda: audit.start(registry))
    if setup is not None:
        try:
            setup(ctx)
        except JobError as exc:
            raise ConfigError([f"At '{service}': {exc}"]) from None
    jobs_http.register(app, jobs, config.get("api", {}).get("token"), service)
    app.add_url_rule("/status", "status", lambda: _status(ctx))
    return ctx


def _status(ctx: Context) -> dict[str, Any]:
    return {
        "service": ctx.service,
        "version": __version__,
        "jobs": ctx.jobs.status(),
        "locks": ctx.locks.holders(),
    }


def start(ctx: Context) -> None:
    """Start background work: the ``on_start`` hooks, then the job schedule."""
    for hook in ctx.on_start:
        hook()
    ctx.jobs.start()


def stop(ctx: Context) -> None:
    """Stop background work: jobs get their grace time, then ``on_shutdown`` hooks run."""
    left = ctx.jobs.stop(ctx.config["shutdown_grace_seconds"])
    for run in left:
        log.warning(
            "run %s of %s interrupted at shutdown",
            run.run_id,
            run.job,
            extra={"event": "job_interrupted", "run_id": run.run_id, "job": run.job},
        )
    for hook in ctx.on_shutdown:
        try:
            hook()
        except Exception:  # noqa: BLE001 - one failing hook must not skip the others
            log.exception("shutdown hook failed")


def parse_args(service: str, argv: list[str] | None) -> argparse.Namespace:
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
    parser.add_argument(
        "--print-config-reference",
        action="store_true",
        help="print every configuration option (Markdown) and exit",
    )
    return parser.parse_args(argv)


def _print_problems(service: str, problems: list[str]) -> int:
    print(f"napops-{service}: invalid configuration:", file=sys.stderr)
    for line in problems:
        print(line, file=sys.stderr)
    return 2


def run(service: str, section: Schema | None, setup: Setup | None, argv: list[str] | None) -> int:
    """Entry point body of a sidecar. Returns the process exit status (2: bad configuration
    or a port that cannot be bound)."""
    args = parse_args(service, argv)
    schema = configmod.common_schema(service, section)
    if args.print_config_reference:
        print(markdown(schema, f"napops-{service}"), end="")
        return 0
    try:
        config = configmod.load(schema, args.config)
        if args.check_config:
            build(service, section, config, setup)  # a bad schedule is a config problem too
    except ConfigError as exc:
        return _print_problems(service, exc.problems)
    if args.check_config:
        print(f"napops-{service}: configuration is valid")
        return 0
    logs.setup(service, config["log_level"], configmod.secrets_of(config, schema))
    try:
        ctx = build(service, section, config, setup)
    except ConfigError as exc:
        return _print_problems(service, exc.problems)
    host, port = config["listen"]["host"], config["listen"]["port"]
    try:
        server = Server(ctx.app, host, port)
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        print(f"napops-{service}: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return 2

    def _stop(signum: int, _frame: Any) -> None:
        log.info("stopping on signal %s", signum, extra={"event": "stopping"})
        server.close()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "started %s on %s:%s",
        service,
        host,
        server.port,
        extra={"event": "start", "version": __version__},
    )
    try:
        start(ctx)  # the socket is bound: background work may now be reached through it
        server.run()
    except OSError:  # the listening socket closed by _stop
        pass
    finally:
        stop(ctx)
        # the last line: background work has finished (or was recorded as interrupted)
        log.info("stopped %s", service, extra={"event": "stop"})
    return 0

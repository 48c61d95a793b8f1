"""The deploy engine: one deployment at a time per service, steps recorded as they happen.

Blue-green (stateless services)::

    lock -> find blue -> pull -> create green (blue's config, new image, no service alias)
    -> health gate (Docker health + optional HTTP check from the edge) -> nginx -t in the edge
    -> switch (green gets the service's aliases: nginx resolves both) -> wait for the edge's
    resolver -> drain and stop blue -> verification window (green healthy, optional PromQL)
    -> remove blue, green takes the canonical name.

The edge is never reloaded: nginx resolves the service name through Docker's DNS, and the
switch moves the name, so no client connection is closed. A failure before the switch removes
green and leaves blue untouched; a failure in the verification window starts blue again and
removes green (rollback). Recreate (stateful services): backup through the backup sidecar,
stop the old container, start the new one under the canonical name, health gate, and on
failure the old container back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ..core.audit import AuditTrail
from ..core.dockerhost import DockerError, Engine
from ..core.errors import NapopsError
from ..core.locks import LockBusy, Locks
from ..core.schema import apply_defaults
from . import docker_ops as ops
from .metrics import DeployMetrics
from .schema import _ENVIRONMENT, _SERVICE
from .spec import SpecError, green_spec
from .state import Deployment, State

log = logging.getLogger(__name__)


class DeployFailed(NapopsError):
    """A step failed; the message is the deployment's reason."""


class Busy(NapopsError):
    """The service is being deployed and the configuration says refuse."""


@dataclass
class Settings:
    section: dict[str, Any]
    docker: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> dict[str, Any]:
        services = self.section.get("services", {})
        if name not in services:
            known = ", ".join(sorted(services)) or "none"
            raise DeployFailed(f"unknown service {name!r} (services: {known})")
        svc: dict[str, Any] = apply_defaults(services[name], _SERVICE)
        svc.setdefault("compose_service", name)
        return svc

    def environment(self, name: str) -> dict[str, Any]:
        envs = self.section.get("environments", {})
        if name not in envs:
            known = ", ".join(sorted(envs)) or "none"
            raise DeployFailed(f"unknown environment {name!r} (environments: {known})")
        env: dict[str, Any] = apply_defaults(envs[name], _ENVIRONMENT)
        env.setdefault("project_prefix", f"napops-{name}-")
        return env


Notifier = Callable[[Deployment], None]


class Deployer:
    def __init__(
        self,
        settings: Settings,
        state: State,
        metrics: DeployMetrics,
        locks: Locks,
        audit: AuditTrail | None = None,
        notify: Notifier | None = None,
        engine_factory: Callable[[dict[str, Any]], Engine] = Engine,
    ):
        self.settings, self.state, self.metrics = settings, state, metrics
        self.locks, self.audit, self.notify = locks, audit, notify
        self._engine_factory = engine_factory
        self._engines: dict[str, Engine] = {}
        self._guard = threading.Lock()
        self._active: set[str] = set()
        self._threads: list[threading.Thread] = []

    # -- engines -------------------------------------------------------------------------------
    def engine(self, environment: str) -> Engine:
        with self._guard:
            if environment not in self._engines:
                env = self.settings.environment(environment)
                own = env.get("docker") or {}
                cfg = own if own.get("host") else {**self.settings.docker, **own}
                self._engines[environment] = self._engine_factory(cfg)
            return self._engines[environment]

    def close(self) -> None:
        for eng in self._engines.values():
            eng.close()

    # -- submitting ----------------------------------------------------------------------------
    def submit(self, dep: Deployment, refuse_when_busy: bool | None = None) -> Deployment:
        """Record ``dep`` and run it in the background. Raises Busy (nothing recorded) when
        the service is being deployed and the configuration (or the caller) says refuse."""
        key = lock_key(dep.service, dep.environment)
        refuse = (
            self.settings.section.get("on_busy", "queue") == "refuse"
            if refuse_when_busy is None
            else refuse_when_busy
        )
        with self._guard:
            busy = key in self._active or any(h.get("key") == key for h in self.locks.holders())
            if busy and refuse:
                raise Busy(f"{dep.service} in {dep.environment} is being deployed")
            self._active.add(key)
        self.state.save(dep)
        thread = threading.Thread(target=self._run_thread, args=(dep,), daemon=True)
        thread.name = f"deploy-{dep.id}"
        self._threads.append(thread)
        thread.start()
        return dep

    def _run_thread(self, dep: Deployment) -> None:
        try:
            self.run(dep)
        finally:
            with self._guard:
                self._active.discard(lock_key(dep.service, dep.environment))

    def wait_all(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))

    # -- running -------------------------------------------------------------------------------
    def run(self, dep: Deployment) -> Deployment:
        """Run ``dep`` to its end in this thread; the result is in ``dep.state``."""
        key = lock_key(dep.service, dep.environment)
        section = self.settings.section
        wait = (
            0.0
            if section.get("on_busy", "queue") == "refuse"
            else section.get("queue_wait_seconds", 1800)
        )
        self.metrics.declare(dep.service, dep.environment)
        try:
            with self.locks.hold(key, dep.id, wait_seconds=wait) as held:
                self.metrics.lock_wait.labels(dep.service, dep.environment).observe(
                    held.waited_seconds
                )
                if held.recovered_from:
                    self.step(dep, "lock", "recovered", holder=held.recovered_from)
                    self.recover(dep.service, dep.environment)
                self._execute(dep)
        except LockBusy as exc:
            dep.state, dep.reason, dep.finished = "refused", str(exc), time.time()
            self.step(dep, "lock", "refused", reason=str(exc))
            self._finish(dep)
        return dep

    def _execute(self, dep: Deployment) -> None:
        dep.state, dep.started = "running", time.time()
        self.state.save(dep)
        self.metrics.in_progress.labels(dep.service, dep.environment).inc()
        try:
            svc = self.settings.service(dep.service)
            env = self.settings.environment(dep.environment)
            if svc["strategy"] == "recreate":
                self._recreate(dep, svc, env)
            else:
                self._blue_green(dep, svc, env)
            if dep.state == "running":
                dep.state = "succeeded"
        except (DeployFailed, DockerError, SpecError) as exc:
            dep.state, dep.reason = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - any crash is a failed deployment, recorded
            log.exception("deployment %s crashed", dep.id)
            dep.state, dep.reason = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self.metrics.in_progress.labels(dep.service, dep.environment).dec()
        if dep.state == "failed" and dep.previous_image:
            self._set_live(dep, dep.previous_image)  # the old image still serves
        dep.finished = time.time()
        self.metrics.duration.labels(dep.service, dep.environment).observe(
            dep.finished - (dep.started or dep.finished)
        )
        self._finish(dep)

    def _finish(self, dep: Deployment) -> None:
        self.state.save(dep)
        result = dep.state if dep.state in ("succeeded", "failed", "rolled_back") else "refused"
        self.metrics.deployments.labels(dep.service, dep.environment, result).inc()
        self.metrics.last_finished.labels(dep.service, dep.environment, result).set(
            dep.finished or time.time()
        )
        self._audit("deploy_finished", dep, result=dep.state, reason=dep.reason)
        log.log(
            logging.INFO if dep.state == "succeeded" else logging.ERROR,
            "deployment %s of %s to %s: %s%s",
            dep.id,
            dep.image,
            dep.service,
            dep.state,
            f" ({dep.reason})" if dep.reason else "",
            extra={"event": "deploy_finished", "deployment": dep.id, "result": dep.state},
        )
        if self.notify is not None:
            try:
                self.notify(dep)
            except Exception as exc:  # noqa: BLE001 - a notice never changes the outcome
                log.warning("notification of %s failed: %s", dep.id, exc)

    def step(self, dep: Deployment, name: str, outcome: str, **data: Any) -> None:
        entry = {"step": name, "outcome": outcome, "at": time.time(), **data}
        dep.steps.append(entry)
        self.state.save(dep)
        self._audit(f"deploy_{name}", dep, outcome=outcome, **data)
        log.info(
            "deployment %s: %s %s",
            dep.id,
            name,
            outcome,
            extra={"event": "deploy_step", "deployment": dep.id, "step": name, "outcome": outcome},
        )

    def _audit(self, action: str, dep: Deployment, **data: Any) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(
                action,
                {
                    "deployment": dep.id,
                    "service": dep.service,
                    "environment": dep.environment,
                    "image": dep.image,
                    **{k: v for k, v in data.items() if _jsonable(v)},
                },
            )
        except NapopsError as exc:
            log.error("audit append failed: %s", exc)

    # -- blue-green ----------------------------------------------------------------------------
    def _find_blue(self, eng: Engine, project: str, compose_service: str) -> dict[str, Any]:
        running = [
            c
            for c in eng.containers(project=project, service=compose_service)
            if not c.name.endswith((ops.NEXT_SUFFIX, ops.PREV_SUFFIX))
        ]
        if len(running) != 1:
            names = ", ".join(c.name for c in running) or "none"
            raise DeployFailed(
                f"expected one running container of {compose_service} in project {project}, "
                f"found {names}"
            )
        return eng.inspect(running[0].id)

    def _blue_green(self, dep: Deployment, svc: dict[str, Any], env: dict[str, Any]) -> None:
        eng = self.engine(dep.environment)
        project = env["project_prefix"] + svc["stack"]
        blue = self._find_blue(eng, project, svc["compose_service"])
        canonical = blue["Name"].lstrip("/")
        dep.previous_image = blue["Config"]["Image"]
        self.step(dep, "blue", "found", container=canonical, image=dep.previous_image)

        new_image = self._pull(dep, eng)
        blue_image = ops.image_inspect(eng, blue["Image"])
        spec = green_spec(blue, blue_image, dep.image, canonical + ops.NEXT_SUFFIX)
        self._remove_leftover(eng, spec.name)
        green = ops.create(eng, spec, {ops.DEPLOY_LABEL: dep.id})
        self.step(dep, "green", "created", container=spec.name, image_id=new_image["Id"])
        try:
            eng.start(green)
            edge = ops.edge_container(eng, env["edge"]["project"], env["edge"]["service"])
            self._gate(dep, eng, spec.name, svc, edge)
            problem = ops.nginx_test(eng, edge)
            if problem:
                raise DeployFailed(problem)
            self.step(dep, "edge", "config_ok", edge=edge)
            t0 = time.monotonic()
            try:
                ops.set_aliases(eng, green, spec.networks)
            except DockerError as exc:
                raise DeployFailed(f"switch failed (blue keeps serving): {exc}") from None
            switch_s = time.monotonic() - t0
            dep.figures["switch_seconds"] = round(switch_s, 3)
            self.metrics.switch.labels(dep.service, dep.environment).observe(switch_s)
            self.step(dep, "switch", "done", seconds=round(switch_s, 3))
        except BaseException as exc:
            self._discard(dep, eng, green, "green removed; blue untouched")
            if isinstance(exc, DeployFailed | DockerError):
                raise
            raise
        # both serve now; let the edge's resolver see green before blue goes
        time.sleep(float(env["edge"]["resolver_valid_seconds"]) + 1)
        self._stop(dep, eng, blue["Id"], blue, "blue")
        failure = self._verify(dep, eng, green, svc, env)
        if failure is not None:
            self._rollback(dep, eng, blue, green, canonical, failure, svc, env)
            return
        eng.remove(blue["Id"])
        ops.rename(eng, green, canonical)
        self.step(dep, "finish", "done", container=canonical)
        self._set_live(dep, dep.image)

    def _pull(self, dep: Deployment, eng: Engine) -> dict[str, Any]:
        try:
            doc = ops.pull(eng, dep.image)
        except DockerError as exc:
            self.step(dep, "pull", "failed", reason=str(exc))
            raise DeployFailed(f"{exc} (nothing was changed)") from None
        self.step(dep, "pull", "done", image_id=doc["Id"])
        return doc

    def _gate(
        self, dep: Deployment, eng: Engine, name: str, svc: dict[str, Any], edge: str
    ) -> None:
        check = self._http_check(eng, None, svc, name, edge)
        t0 = time.monotonic()
        problem = ops.wait_healthy(eng, name, svc["health_timeout_seconds"], check)
        if problem is not None:
            self.step(dep, "health", "failed", reason=problem)
            raise DeployFailed(f"health gate: {name} {problem}")
        dep.figures["health_seconds"] = round(time.monotonic() - t0, 3)
        self.step(dep, "health", "passed", seconds=dep.figures["health_seconds"])

    def _http_check(
        self,
        eng: Engine,
        env: dict[str, Any] | None,
        svc: dict[str, Any],
        name: str,
        edge: str | None = None,
    ) -> Callable[[], str | None] | None:
        """The HTTP check of ``name`` from the edge container, when the service has one."""
        if not (svc.get("health_path") and svc.get("port")):
            return None
        if edge is None:
            assert env is not None
            edge = ops.edge_container(eng, env["edge"]["project"], env["edge"]["service"])
        url = f"http://{name}:{svc['port']}{svc['health_path']}"
        where = edge

        def check() -> str | None:
            return ops.http_check(eng, where, url)

        return check

    def _stop(self, dep: Deployment, eng: Engine, cid: str, doc: dict[str, Any], what: str) -> None:
        timeout = int(doc["Config"].get("StopTimeout") or 10)
        t0 = time.monotonic()
        eng.stop(cid, timeout=timeout)
        dep.figures[f"{what}_stop_seconds"] = round(time.monotonic() - t0, 3)
        self.step(
            dep, "drain", "stopped", container=what, seconds=dep.figures[f"{what}_stop_seconds"]
        )

    def _verify(
        self, dep: Deployment, eng: Engine, green: str, svc: dict[str, Any], env: dict[str, Any]
    ) -> tuple[str, str] | None:
        """(reason label, reason) of a failure in the window, or None."""
        end = time.monotonic() + float(svc["verify_seconds"])
        query, prom = svc.get("verify_query"), env.get("prometheus_url")
        while True:
            doc = eng.inspect(green)
            state = doc["State"]
            health = (state.get("Health") or {}).get("Status", "none")
            if not state.get("Running") or health == "unhealthy":
                out = ops.last_health_output(doc) or f"state {state.get('Status')}"
                return (
                    "health",
                    f"green became {health if state.get('Running') else 'stopped'}: {out}",
                )
            if query and prom:
                bad = promql_failure(prom, query)
                if bad:
                    return "query", bad
            if time.monotonic() >= end:
                self.step(dep, "verify", "passed")
                return None
            time.sleep(0.5)

    def _rollback(
        self,
        dep: Deployment,
        eng: Engine,
        blue: dict[str, Any],
        green: str,
        canonical: str,
        problem: tuple[str, str],
        svc: dict[str, Any],
        env: dict[str, Any],
    ) -> None:
        label, reason = problem
        t0 = time.monotonic()
        self.step(dep, "verify", "failed", reason=reason)
        eng.start(blue["Id"])
        check = self._http_check(eng, env, svc, canonical)
        back = ops.wait_healthy(
            eng, blue["Id"], svc["health_timeout_seconds"], check, accept_starting=True
        )
        if back is not None:
            dep.state = "failed"
            dep.reason = f"verification failed ({reason}) and blue did not come back: {back}"
            self.step(dep, "rollback", "failed", reason=back)
            return
        dep.figures["rollback_blue_ready_seconds"] = round(time.monotonic() - t0, 3)
        time.sleep(float(env["edge"]["resolver_valid_seconds"]) + 1)
        seconds = time.monotonic() - t0  # blue serves and the edge knows it: rolled back
        self._discard(dep, eng, green, "green removed after the rollback")
        dep.figures["rollback_seconds"] = round(seconds, 3)
        self.metrics.rollbacks.labels(dep.service, dep.environment, label).inc()
        self.metrics.rollback_duration.labels(dep.service, dep.environment).observe(seconds)
        self.step(dep, "rollback", "done", seconds=round(seconds, 3), container=canonical)
        dep.state, dep.reason = "rolled_back", f"verification failed: {reason}"
        self._set_live(dep, dep.previous_image or "")

    def _discard(self, dep: Deployment, eng: Engine, container: str, note: str) -> None:
        try:
            doc = eng.inspect(container)
            if doc["State"].get("Running"):
                eng.stop(container, timeout=int(doc["Config"].get("StopTimeout") or 10))
            eng.remove(container)
            self.step(dep, "cleanup", "done", note=note)
        except DockerError as exc:
            self.step(dep, "cleanup", "failed", reason=str(exc))

    def _remove_leftover(self, eng: Engine, name: str) -> None:
        if ops.container_named(eng, name) is not None:
            eng.remove(name)

    def _set_live(self, dep: Deployment, image: str) -> None:
        """Record what serves now; ``previous`` (what `napops rollback` returns to) changes
        only when the deploy changed the image."""
        changed = {"previous": dep.previous_image} if image == dep.image else {}
        self.state.set_live(
            dep.service,
            dep.environment,
            image=image,
            requested=dep.image,
            deployment=dep.id,
            **changed,
        )
        self.metrics.set_live(dep.service, dep.environment, image, dep.image)

    # -- recreate (stateful) -------------------------------------------------------------------
    def _recreate(self, dep: Deployment, svc: dict[str, Any], env: dict[str, Any]) -> None:
        eng = self.engine(dep.environment)
        project = env["project_prefix"] + svc["stack"]
        old = self._find_blue(eng, project, svc["compose_service"])
        canonical = old["Name"].lstrip("/")
        dep.previous_image = old["Config"]["Image"]
        self.step(dep, "current", "found", container=canonical, image=dep.previous_image)
        self._backup(dep, svc)
        self._pull(dep, eng)
        old_image = ops.image_inspect(eng, old["Image"])
        spec = green_spec_recreate(old, old_image, dep.image, canonical)
        prev = canonical + ops.PREV_SUFFIX
        self._remove_leftover(eng, prev)
        t0 = time.monotonic()
        self._stop(dep, eng, old["Id"], old, "old")
        ops.rename(eng, old["Id"], prev)
        new = ops.create(eng, spec, {ops.DEPLOY_LABEL: dep.id})
        ops.set_aliases(eng, new, spec.networks)
        eng.start(new)
        problem = ops.wait_healthy(eng, new, svc["health_timeout_seconds"])
        if problem is None:
            downtime = time.monotonic() - t0
            dep.figures["downtime_seconds"] = round(downtime, 3)
            self.metrics.downtime.labels(dep.service, dep.environment).observe(downtime)
            self.step(dep, "health", "passed", downtime_seconds=round(downtime, 3))
            eng.remove(prev)
            self._set_live(dep, dep.image)
            return
        self.step(dep, "health", "failed", reason=problem)
        eng.remove(new)
        ops.rename(eng, prev, canonical)
        eng.start(canonical)
        back = ops.wait_healthy(eng, canonical, svc["health_timeout_seconds"])
        downtime = time.monotonic() - t0
        dep.figures["downtime_seconds"] = round(downtime, 3)
        self.metrics.downtime.labels(dep.service, dep.environment).observe(downtime)
        if back is not None:
            raise DeployFailed(
                f"health gate: {problem}; the previous image did not come back: {back}"
            )
        self.metrics.rollbacks.labels(dep.service, dep.environment, "health").inc()
        self.step(dep, "rollback", "done", downtime_seconds=round(downtime, 3))
        dep.state, dep.reason = "rolled_back", f"health gate: {problem} (previous image restored)"
        self._set_live(dep, dep.previous_image or "")

    def _backup(self, dep: Deployment, svc: dict[str, Any]) -> None:
        if dep.options.get("no_backup"):
            self.step(dep, "backup", "skipped", reason="--no-backup")
            return
        backup = self.settings.section.get("backup")
        job = svc.get("backup_job")
        if not backup or not job:
            raise DeployFailed(
                f"{dep.service} is stateful: no backup sidecar (deploy.backup) or backup_job is "
                "configured, so the recreate is refused; pass --no-backup to deploy anyway"
            )
        run = run_backup(backup["url"], backup["token"], job, svc["health_timeout_seconds"] * 10)
        self.step(dep, "backup", "done", run=run)

    # -- recovery ------------------------------------------------------------------------------
    def recover_all(self) -> None:
        """After a restart: finish or undo what killed deployments left (per service lock)."""
        for dep in self.state.active():
            key = lock_key(dep.service, dep.environment)
            try:
                with self.locks.hold(key, f"recover-{dep.id}", wait_seconds=5) as held:
                    note = self.recover(dep.service, dep.environment)
                    if held.recovered_from:
                        stale = held.recovered_from
                        note = f"lock recovered from run {stale.get('run_id')}; {note}"
            except (LockBusy, NapopsError) as exc:
                note = f"recovery failed: {exc}"
            dep.state = "failed"
            dep.reason = f"interrupted by a restart of the deploy sidecar; {note}"
            dep.finished = time.time()
            self.step(dep, "recover", "done", note=note)
            self._finish(dep)

    def recover(self, service: str, environment: str) -> str:
        """Leave exactly one known container of the service serving; say what was done."""
        svc = self.settings.service(service)
        env = self.settings.environment(environment)
        eng = self.engine(environment)
        project = env["project_prefix"] + svc["stack"]
        every = eng.containers(
            project=project, service=svc["compose_service"], include_stopped=True
        )
        nxt = [c for c in every if c.name.endswith(ops.NEXT_SUFFIX)]
        prev = [c for c in every if c.name.endswith(ops.PREV_SUFFIX)]
        main = [c for c in every if not c.name.endswith((ops.NEXT_SUFFIX, ops.PREV_SUFFIX))]
        notes = []
        if main:
            blue = main[0]
            if blue.status != "running":
                eng.start(blue.id)
                ops.wait_healthy(eng, blue.id, svc["health_timeout_seconds"])
                notes.append(f"{blue.name} started again")
            for c in nxt + prev:
                eng.remove(c.id)
                notes.append(f"leftover {c.name} removed")
        elif nxt:
            canonical = nxt[0].name[: -len(ops.NEXT_SUFFIX)]
            ops.rename(eng, nxt[0].id, canonical)
            notes.append(f"{nxt[0].name} renamed {canonical}")
            for c in prev:
                eng.remove(c.id)
        elif prev:
            canonical = prev[0].name[: -len(ops.PREV_SUFFIX)]
            ops.rename(eng, prev[0].id, canonical)
            eng.start(prev[0].id)
            notes.append(f"{prev[0].name} restored as {canonical}")
        return "; ".join(notes) or "nothing left over"


def green_spec_recreate(
    old: dict[str, Any], old_image: dict[str, Any], image: str, name: str
) -> Any:
    """Recreate: the same configuration under the canonical name (ports may be published)."""
    doc = json.loads(json.dumps(old))
    doc["HostConfig"]["PortBindings"] = {}
    spec = green_spec(doc, old_image, image, name)
    spec.host_config["PortBindings"] = old["HostConfig"].get("PortBindings") or {}
    return spec


def lock_key(service: str, environment: str) -> str:
    return f"deploy-{service}-{environment}"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def promql_failure(base: str, query: str, timeout: float = 5) -> str | None:
    """A reason when ``query`` returns a sample above 0. A query that cannot be evaluated is
    no verdict (None): Prometheus being away must not roll a good release back."""
    try:
        resp = requests.get(
            base.rstrip("/") + "/api/v1/query", params={"query": query}, timeout=timeout
        )
        resp.raise_for_status()
        data = resp.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("verify_query could not be evaluated: %s", exc)
        return None
    for sample in (data.get("data") or {}).get("result") or []:
        value = float((sample.get("value") or [0, "0"])[1])
        if value > 0:
            return f"verify_query {query!r} returned {value:g} ({sample.get('metric')})"
    return None


def run_backup(base: str, token: str, job: str, timeout: float) -> str:
    """Run ``job`` on the backup sidecar (POST /jobs/<job>/run) and wait for its success."""
    headers = {"Authorization": f"Bearer {token}"}
    root = base.rstrip("/")
    try:
        resp = requests.post(f"{root}/jobs/{job}/run", json={}, headers=headers, timeout=10)
        run = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise DeployFailed(f"backup job {job!r} could not be started: {exc}") from None
    if resp.status_code != 202:
        raise DeployFailed(f"backup job {job!r} refused ({resp.status_code}): {run.get('reason')}")
    run_id = run["run_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            doc = requests.get(f"{root}/jobs/runs/{run_id}", headers=headers, timeout=10).json()
        except (requests.RequestException, ValueError) as exc:
            raise DeployFailed(f"backup run {run_id}: {exc}") from None
        state = doc.get("state")
        if state == "success":
            return str(run_id)
        if state in ("failed", "interrupted"):
            raise DeployFailed(f"backup run {run_id} {state}: {doc.get('error')}")
        time.sleep(2)
    raise DeployFailed(f"backup run {run_id} did not finish within {timeout:g} s")

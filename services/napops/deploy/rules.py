"""Which Gitea event deploys what: pure matching of an event against the configured rules.

An event is reduced to :class:`Event` (repository, kind, branch or tag, commit, version) by
:func:`event_of`; :func:`match` returns the first rule that answers it as a :class:`Target`
(service, environment, image reference with ``{tag}``, ``{sha}``, ``{branch}``,
``{version}`` filled), or raises :class:`NoMatch` with the reason. A tag never reaches an
environment through a branch rule: only a rule with ``tag:`` deploys a tag, so a release
goes to prod only where a rule says so.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import NapopsError

EVENTS = ("push", "create", "release", "package")


class NoMatch(NapopsError):
    """The event deploys nothing; the message says why (answered 202 with that reason)."""


class BadEvent(NapopsError):
    """The payload lacks what its event type must carry (answered 400)."""


@dataclass(frozen=True)
class Event:
    repository: str
    kind: str  # push, create, release, package
    branch: str | None = None
    tag: str | None = None
    sha: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Target:
    service: str
    environment: str
    image: str
    rule: int  # index of the matching rule


def _need(payload: Mapping[str, Any], *keys: str) -> Any:
    node: Any = payload
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            raise BadEvent(f"At '{'.'.join(keys)}': required but missing")
        node = node[key]
    return node


def event_of(kind: str, payload: Mapping[str, Any]) -> Event:
    """The deploy-relevant facts of a Gitea payload of event type ``kind``."""
    if kind not in EVENTS:
        raise BadEvent(f"unknown event type {kind!r} (handled: {', '.join(EVENTS)})")
    if kind == "package":
        pkg = _need(payload, "package")
        if payload.get("action") != "created" or pkg.get("type") != "container":
            raise NoMatch(
                f"package event {payload.get('action')!r} of a {pkg.get('type')!r} package "
                "deploys nothing (only created container images do)"
            )
        repo = (pkg.get("repository") or {}).get("full_name") or _need(
            payload, "repository", "full_name"
        )
        version = str(_need(payload, "package", "version"))
        if version.startswith("sha256:"):
            raise NoMatch(f"package version {version} is a manifest digest (multi-arch part)")
        return Event(str(repo), kind, tag=version, version=version)
    repo = str(_need(payload, "repository", "full_name"))
    if kind == "push":
        ref = str(_need(payload, "ref"))
        sha = str(payload.get("after") or "")
        if ref.startswith("refs/tags/"):
            return Event(repo, kind, tag=ref[len("refs/tags/") :], sha=sha)
        return Event(repo, kind, branch=ref.removeprefix("refs/heads/"), sha=sha)
    if kind == "create":
        ref_type = str(_need(payload, "ref_type"))
        ref = str(_need(payload, "ref")).removeprefix("refs/tags/").removeprefix("refs/heads/")
        sha = str(payload.get("sha") or "")
        if ref_type == "tag":
            return Event(repo, kind, tag=ref, sha=sha)
        return Event(repo, kind, branch=ref, sha=sha)
    release = _need(payload, "release")
    if payload.get("action") not in ("published", None) or release.get("draft"):
        raise NoMatch(f"release action {payload.get('action')!r} deploys nothing")
    tag = str(_need(payload, "release", "tag_name"))
    return Event(repo, kind, tag=tag, sha=str(release.get("target_commitish") or ""))


def match(event: Event, rules: Iterable[Mapping[str, Any]]) -> Target:
    """The first rule that answers ``event``; NoMatch says why none did."""
    rules = list(rules)
    of_repo = [r for r in rules if r["repository"] == event.repository]
    if not of_repo:
        raise NoMatch(f"no rule for repository {event.repository!r}")
    of_kind = [r for r in of_repo if event.kind in r["events"]]
    if not of_kind:
        raise NoMatch(f"no rule of {event.repository!r} for {event.kind} events")
    for rule in of_kind:
        if (
            event.tag is not None
            and rule.get("tag")
            and fnmatch.fnmatchcase(event.tag, rule["tag"])
        ):
            break
        if (
            event.branch is not None
            and rule.get("branch")
            and fnmatch.fnmatchcase(event.branch, rule["branch"])
        ):
            break
    else:
        what = f"tag {event.tag!r}" if event.tag is not None else f"branch {event.branch!r}"
        raise NoMatch(f"{what} of {event.repository!r} matches no {event.kind} rule")
    image = render(rule["image"], event)
    return Target(rule["service"], rule["environment"], image, rules.index(rule))


_FIELD = re.compile(r"\{(\w+)\}")


def render(template: str, event: Event) -> str:
    """Fill ``{tag}``, ``{sha}``, ``{branch}``, ``{version}``; NoMatch if one is unknown."""
    values = {
        "tag": event.tag,
        "sha": event.sha,
        "branch": event.branch,
        "version": event.version or event.tag,
    }

    def fill(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        if not value:
            raise NoMatch(
                f"image template {template!r}: the {event.kind} event has no {{{m.group(1)}}}"
            )
        return _tag_safe(value)

    return _FIELD.sub(fill, template)


def _tag_safe(value: str) -> str:
    """A Docker tag allows [A-Za-z0-9_.-]; a branch like feature/x becomes feature-x."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:128]


def image_reference_ok(image: str) -> bool:
    """True for ``[registry[:port]/]path[:tag][@sha256:...]`` references."""
    return (
        re.fullmatch(
            r"[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
            r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?",
            image,
        )
        is not None
    )

"""``napops deploy`` and ``napops rollback``: ask the running deploy sidecar, follow its steps.

    napops deploy SERVICE IMAGE [--env ENV] [--wait] [--no-backup] [--json]
    napops deploy status [ID] [--json]
    napops rollback SERVICE [--env ENV] [--wait] [--json]

The sidecar does the work (it holds the locks and the state); the CLI posts to its API
(``--url``, default ``$NAPOPS_DEPLOY_URL`` or http://127.0.0.1:8000, the sidecar's own
container) with its token (``--token-file``, default ``$NAPOPS_DEPLOY_TOKEN_FILE`` or
/run/secrets/napops_api_token). With ``--wait`` each step is printed on stderr as it happens
and the outcome decides the exit status:

    0 succeeded (without --wait: accepted)   1 failed   3 rolled back
    4 refused: the service is being deployed (on_busy: refuse)   2 usage, bad request,
    sidecar unreachable
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

EXIT = {"succeeded": 0, "failed": 1, "rolled_back": 3, "refused": 4}
DEFAULT_TOKEN_FILE = "/run/secrets/napops_api_token"  # noqa: S105 - a path, not a secret


class CliError(Exception):
    """Exit 2 with this message."""


def _url(args: argparse.Namespace) -> str:
    return str(args.url or os.environ.get("NAPOPS_DEPLOY_URL") or "http://127.0.0.1:8000")


def _token(args: argparse.Namespace) -> str:
    path = args.token_file or os.environ.get("NAPOPS_DEPLOY_TOKEN_FILE") or DEFAULT_TOKEN_FILE
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(f"cannot read the API token {path!r}: {exc.strerror}") from None


def _call(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = requests.request(method, url, json=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise CliError(f"the deploy sidecar at {url} cannot be reached: {exc}") from None
    try:
        return resp.status_code, resp.json()
    except ValueError:
        raise CliError(f"{url} answered {resp.status_code} without JSON") from None


def _follow(base: str, dep_id: str, quiet: bool, timeout: float = 3600) -> dict[str, Any]:
    shown = 0
    deadline = time.monotonic() + timeout
    while True:
        status, doc = _call("GET", f"{base}/deployments/{dep_id}")
        if status != 200:
            raise CliError(f"deployment {dep_id}: {doc.get('reason', status)}")
        for step in doc["steps"][shown:]:
            if not quiet:
                at = step["at"] - doc["created"]
                extra = step.get("reason") or step.get("note") or step.get("container") or ""
                line = f"  [{at:6.1f}s] {step['step']}: {step['outcome']} {extra}"
                print(line.rstrip(), file=sys.stderr, flush=True)
        shown = len(doc["steps"])
        if doc["state"] not in ("queued", "running"):
            return dict(doc)
        if time.monotonic() > deadline:
            raise CliError(f"deployment {dep_id} still {doc['state']} after {timeout:g} s")
        time.sleep(0.5)


def _outcome(doc: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(doc))
    else:
        state = doc["state"]
        line = f"{state}: {doc['service']} in {doc['environment']}: {doc['image']} ({doc['id']})"
        print(line + (f": {doc['reason']}" if doc.get("reason") else ""))
    return EXIT.get(doc["state"], 1)


def _start(args: argparse.Namespace, path: str, body: dict[str, Any]) -> int:
    base = _url(args)
    status, doc = _call("POST", base + path, _token(args), body)
    if status == 409:
        print(f"refused: {doc.get('reason')}", file=sys.stderr)
        return 4
    if status != 202:
        raise CliError(f"{status}: {doc.get('reason', doc)}")
    dep_id = doc["deployment"]
    if not args.wait:
        if args.json:
            print(json.dumps(doc))
        else:
            print(f"queued: deployment {dep_id} of {doc.get('image')}")
        return 0
    if not args.json:
        print(f"deployment {dep_id} of {doc.get('image')}", file=sys.stderr)
    return _outcome(_follow(base, dep_id, args.json), args.json)


def deploy(args: argparse.Namespace) -> int:
    words = list(args.words)
    try:
        if words and words[0] == "status":
            if len(words) > 2:
                raise CliError("usage: napops deploy status [ID]")
            return status(args, words[1] if len(words) == 2 else None)
        if len(words) != 2:
            raise CliError("usage: napops deploy SERVICE IMAGE [--env ENV] [--wait]")
        body = {"service": words[0], "image": words[1], "environment": args.env}
        body["no_backup"] = args.no_backup
        return _start(args, "/deployments", body)
    except CliError as exc:
        print(f"napops deploy: {exc}", file=sys.stderr)
        return 2


def status(args: argparse.Namespace, dep_id: str | None) -> int:
    """One deployment (exit status as for --wait once it has ended) or the recent ones."""
    base = _url(args)
    if dep_id is not None:
        code, doc = _call("GET", f"{base}/deployments/{dep_id}")
        if code != 200:
            raise CliError(doc.get("reason", str(code)))
        if doc["state"] in ("queued", "running"):
            print(json.dumps(doc) if args.json else f"{doc['state']}: {doc['id']}")
            return 0
        return _outcome(doc, args.json)
    code, doc = _call("GET", f"{base}/deployments?limit=20")
    if args.json:
        print(json.dumps(doc))
        return 0
    for d in doc["deployments"]:
        reason = f"  ({d['reason']})" if d.get("reason") else ""
        print(
            f"{d['id']}  {d['state']:<11} {d['service']}@{d['environment']}  {d['image']}{reason}"
        )
    return 0


def rollback(args: argparse.Namespace) -> int:
    try:
        return _start(args, "/rollbacks", {"service": args.service, "environment": args.env})
    except CliError as exc:
        print(f"napops rollback: {exc}", file=sys.stderr)
        return 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="staging", help="environment (default: staging)")
    p.add_argument("--wait", action="store_true", help="follow the steps until the end")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--url", help="the deploy sidecar (default $NAPOPS_DEPLOY_URL or :8000)")
    p.add_argument("--token-file", help=f"API token file (default {DEFAULT_TOKEN_FILE})")


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "deploy",
        help="deploy an image of a service (blue-green or recreate), or show deployments",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("words", nargs="+", metavar="SERVICE IMAGE | status [ID]")
    d.add_argument("--no-backup", action="store_true", help="recreate without a backup first")
    _common(d)
    d.set_defaults(handler=deploy)
    r = sub.add_parser(
        "rollback",
        help="deploy the image a service ran before its last successful deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("service")
    _common(r)
    r.set_defaults(handler=rollback)

"""Configuration section ``deploy``: webhook secrets, rules, environments and services."""

from __future__ import annotations

from ..core.config import engine_schema
from ..core.schema import Schema

_ENGINE: Schema = engine_schema(
    "The Docker Engine of the host that runs this environment's services "
    "(compose/hosts.yml): unix://, ssh:// or tcp:// with TLS. Default: the sidecar's own "
    "`docker` section.",
    host_description="Engine address.",
    host_examples=["ssh://napops@qnap"],
    timeout_default=30,
    tls_file_prefix="qnap",
)

_RULE: Schema = {
    "type": "object",
    "description": "One rule: a Gitea event of a repository whose branch or tag matches.",
    "additionalProperties": False,
    "required": ["repository", "events", "service", "environment", "image"],
    "properties": {
        "repository": {
            "type": "string",
            "minLength": 1,
            "description": "The repository's full name (owner/name) as Gitea sends it.",
            "examples": ["nap/dms-backend"],
        },
        "events": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": ["push", "create", "release", "package"]},
            "description": "X-Gitea-Event-Type values the rule answers.",
            "examples": [["release"]],
        },
        "branch": {
            "type": "string",
            "minLength": 1,
            "description": "Glob of the branch (push events); a rule has a branch or a tag.",
            "examples": ["main"],
        },
        "tag": {
            "type": "string",
            "minLength": 1,
            "description": "Glob of the tag (create, release and package events).",
            "examples": ["v*"],
        },
        "service": {
            "type": "string",
            "minLength": 1,
            "description": "The service to deploy (a key of deploy.services).",
            "examples": ["backend"],
        },
        "environment": {
            "type": "string",
            "minLength": 1,
            "description": "Where to deploy (a key of deploy.environments). A tag reaches "
            "`prod` only through a rule that names it.",
            "examples": ["staging"],
        },
        "image": {
            "type": "string",
            "minLength": 1,
            "description": "Image reference; {tag}, {sha}, {branch} and {version} (the "
            "package version) are filled from the event.",
            "examples": ["registry.np-dms.work/nap-dms/backend:{tag}"],
        },
    },
}

_ENVIRONMENT: Schema = {
    "type": "object",
    "description": "One environment: where its services run and where its edge is.",
    "additionalProperties": False,
    "required": ["edge"],
    "properties": {
        "docker": _ENGINE,
        "project_prefix": {
            "type": "string",
            "description": "Compose project name of a stack is <prefix><stack>.",
            "examples": ["napops-prod-"],
        },
        "edge": {
            "type": "object",
            "description": "The nginx edge container (found by its Compose labels) that is "
            "checked (`nginx -t`) before a switch and from which the HTTP check runs.",
            "additionalProperties": False,
            "required": ["project"],
            "properties": {
                "project": {
                    "type": "string",
                    "description": "Compose project of the edge stack.",
                    "examples": ["napops-prod-edge"],
                },
                "service": {
                    "type": "string",
                    "default": "nginx",
                    "description": "Compose service of nginx.",
                    "examples": ["nginx"],
                },
                "resolver_valid_seconds": {
                    "type": "number",
                    "minimum": 0,
                    "default": 2,
                    "description": "nginx `resolver ... valid=` of the edge: after the alias "
                    "moved to green, blue keeps serving this long (plus one second) so that "
                    "nginx knows green before blue stops.",
                    "examples": [2],
                },
            },
        },
        "prometheus_url": {
            "type": "string",
            "format": "url",
            "description": "Prometheus queried by a service's verify_query.",
            "examples": ["http://prometheus:9090"],
        },
    },
}

_SERVICE: Schema = {
    "type": "object",
    "description": "One deployable service.",
    "additionalProperties": False,
    "required": ["stack"],
    "properties": {
        "stack": {
            "type": "string",
            "minLength": 1,
            "description": "Compose stack (compose/stacks/<stack>.yml) the service is in.",
            "examples": ["apps"],
        },
        "compose_service": {
            "type": "string",
            "description": "Its Compose service name (default: the key).",
            "examples": ["backend"],
        },
        "strategy": {
            "type": "string",
            "enum": ["blue-green", "recreate"],
            "default": "blue-green",
            "description": "blue-green: a second container, health gate, switch, verify, "
            "drain. recreate: backup, then replace the container (stateful services).",
            "examples": ["recreate"],
        },
        "port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "description": "The service's HTTP port (for health_path).",
            "examples": [3000],
        },
        "health_path": {
            "type": "string",
            "pattern": "^/",
            "description": "Optional HTTP check of green from the edge container "
            "(GET http://<green>:<port><path> must answer 2xx) after Docker says healthy.",
            "examples": ["/health"],
        },
        "health_timeout_seconds": {
            "type": "number",
            "minimum": 1,
            "default": 180,
            "description": "How long green may take to become healthy.",
            "examples": [120],
        },
        "verify_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 30,
            "description": "Verification window after the switch; a failure rolls back.",
            "examples": [60],
        },
        "verify_query": {
            "type": "string",
            "description": "Optional PromQL that must return no sample above 0 during the "
            "window (needs the environment's prometheus_url).",
            "examples": ['sum(rate(nginx_5xx_total{upstream="backend"}[1m])) > 0.05'],
        },
        "backup_job": {
            "type": "string",
            "description": "recreate: backup sidecar job run before the recreate.",
            "examples": ["mariadb"],
        },
    },
}

SECTION: Schema = {
    "type": "object",
    "description": "The deploy sidecar: Gitea webhooks to blue-green deploys.",
    "additionalProperties": False,
    "properties": {
        "webhook": {
            "type": "object",
            "description": "The Gitea webhook receiver (POST /hooks/gitea).",
            "additionalProperties": False,
            "properties": {
                "secrets": {
                    "type": "object",
                    "description": "Per repository (owner/name): the file holding the hook's "
                    "secret (read at each delivery, so it may be rotated).",
                    "additionalProperties": {"type": "string", "minLength": 1},
                    "default": {},
                    "examples": [{"nap/dms-backend": "/run/secrets/gitea_hook_backend"}],
                },
                "max_body_bytes": {
                    "type": "integer",
                    "minimum": 1024,
                    "default": 262144,
                    "description": "Larger deliveries get 413.",
                    "examples": [65536],
                },
                "deliveries_kept": {
                    "type": "integer",
                    "minimum": 100,
                    "default": 10000,
                    "description": "How many delivery ids are remembered to drop replays.",
                    "examples": [50000],
                },
            },
        },
        "rules": {
            "type": "array",
            "items": _RULE,
            "default": [],
            "description": "Which events deploy what; the first matching rule wins.",
            "examples": [
                [
                    {
                        "repository": "nap/dms-backend",
                        "events": ["push"],
                        "branch": "main",
                        "service": "backend",
                        "environment": "staging",
                        "image": "registry.np-dms.work/nap-dms/backend:{sha}",
                    }
                ]
            ],
        },
        "on_busy": {
            "type": "string",
            "enum": ["queue", "refuse"],
            "default": "queue",
            "description": "A deploy of a service that is being deployed waits its turn "
            "(queue) or is refused (refuse: 409 to the API, a refused deployment for hooks).",
            "examples": ["refuse"],
        },
        "queue_wait_seconds": {
            "type": "number",
            "minimum": 0,
            "default": 1800,
            "description": "How long a queued deploy waits for the lock.",
            "examples": [600],
        },
        "token": {
            "type": "string",
            "minLength": 16,
            "secret": True,
            "description": "Bearer token of POST /deployments and POST /rollbacks (the CLI).",
            "examples": ["token_file: /run/secrets/napops_api_token"],
        },
        "relay": {
            "type": "object",
            "description": "Where deploy outcomes are notified (the relay's /alertmanager).",
            "additionalProperties": False,
            "required": ["url", "token"],
            "properties": {
                "url": {
                    "type": "string",
                    "format": "url",
                    "description": "The relay's base URL.",
                    "examples": ["http://relay:8000"],
                },
                "token": {
                    "type": "string",
                    "minLength": 16,
                    "secret": True,
                    "description": "The relay's bearer token.",
                    "examples": ["token_file: /run/secrets/relay_token"],
                },
            },
        },
        "compliance": {
            "type": "object",
            "description": "The compliance sidecar's job API: asked to scan after a deploy "
            "changes an image.",
            "additionalProperties": False,
            "required": ["url", "token"],
            "properties": {
                "url": {
                    "type": "string",
                    "format": "url",
                    "description": "The compliance sidecar's base URL.",
                    "examples": ["http://compliance:8000"],
                },
                "token": {
                    "type": "string",
                    "minLength": 16,
                    "secret": True,
                    "description": "Its API token (api.token of the compliance sidecar).",
                    "examples": ["token_file: /run/secrets/napops_api_token"],
                },
                "job": {
                    "type": "string",
                    "default": "vulnerabilities",
                    "description": "The job to run.",
                    "examples": ["vulnerabilities"],
                },
            },
        },
        "backup": {
            "type": "object",
            "description": "The backup sidecar's job API, used before a recreate.",
            "additionalProperties": False,
            "required": ["url", "token"],
            "properties": {
                "url": {
                    "type": "string",
                    "format": "url",
                    "description": "The backup sidecar's base URL.",
                    "examples": ["http://backup:8000"],
                },
                "token": {
                    "type": "string",
                    "minLength": 16,
                    "secret": True,
                    "description": "Its api.token.",
                    "examples": ["token_file: /run/secrets/napops_api_token"],
                },
            },
        },
        "environments": {
            "type": "object",
            "additionalProperties": _ENVIRONMENT,
            "default": {},
            "description": "Environments by name (dev, staging, prod).",
            "examples": [{"prod": {"edge": {"project": "napops-prod-edge"}}}],
        },
        "services": {
            "type": "object",
            "additionalProperties": _SERVICE,
            "default": {},
            "description": "Deployable services by name.",
            "examples": [{"backend": {"stack": "apps", "port": 3000, "health_path": "/health"}}],
        },
    },
}

# shellcheck shell=bash
# Shared by stack-up, stack-down and stack-validate. Which files, env files, project and
# environment the local stack uses is decided by the estate tool (compose/bin/estate, see
# compose/estate.py) alone; it reads:
#   ENV             dev | staging | prod (default dev)
#   NAPOPS_PROJECT  Compose project name (default napops-$ENV)
#   NAPOPS_STACKS   stacks to run together (default "monitoring agents napops watch")
# Published ports and mounted folders are Compose variables (PROMETHEUS_PORT, PROMETHEUS_DIR,
# ...: LOCAL_VARIABLES in compose/estate.py); set them in the environment to override the env
# files. Nothing else of the shell reaches Compose.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMPOSE_DIR="$ROOT/compose"
ESTATE="$COMPOSE_DIR/bin/estate"
ENV=${ENV:-dev}
# the project name (used by the scripts that source this), and a check of ENV (exit 2 with
# the reason for an unknown one)
# shellcheck disable=SC2034
PROJECT=$("$ESTATE" project) || exit 2

# local_compose ARGS...: `docker compose` on the local stack (its files, env files, project and
# environment from the estate tool).
local_compose() {
  "$ESTATE" compose --local -- "$@"
}

# validate_all: `docker compose config -q` of each stack alone, then of all together, as
# `local_compose` runs them. Prints Compose's own error and returns non-zero on a broken one.
validate_all() {
  "$ESTATE" validate --local
}

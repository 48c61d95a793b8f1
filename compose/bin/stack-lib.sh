# shellcheck shell=bash
# Shared by stack-up, stack-down and stack-validate: which files, env files and project a
# local stack of one environment uses. Source it; it reads:
#   ENV             dev | staging | prod (default dev)
#   NAPOPS_PROJECT  Compose project name (default napops-$ENV)
#   NAPOPS_STACKS   stacks to run together (default "monitoring agents napops")
# Published ports and mounted folders are Compose variables (PROMETHEUS_PORT, PROMETHEUS_DIR,
# ...); set them in the environment to override the env files.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMPOSE_DIR="$ROOT/compose"
ENV=${ENV:-dev}
PROJECT=${NAPOPS_PROJECT:-napops-$ENV}
read -r -a STACKS <<<"${NAPOPS_STACKS:-monitoring agents napops}"
export NAPOPS_ENV="$ENV"

if [[ ! "$ENV" =~ ^[a-z0-9-]+$ || ! -d "$COMPOSE_DIR/env/$ENV" ]]; then
  printf 'error: unknown environment %q (expected a folder in compose/env/)\n' "$ENV" >&2
  exit 2
fi

# The socket proxies need the group owning the Docker socket (see compose/stacks/agents.yml).
if [[ -z "${DOCKER_SOCKET_GID:-}" && -S /var/run/docker.sock ]]; then
  DOCKER_SOCKET_GID=$(stat -c %g /var/run/docker.sock)
  export DOCKER_SOCKET_GID
fi

# stack_args STACK: compose arguments (files, env files) to render one stack on its own.
stack_args() {
  local stack=$1
  local -a args=(-f "$COMPOSE_DIR/stacks/$stack.yml")
  [[ -f "$COMPOSE_DIR/env/$ENV/$stack.yml" ]] && args+=(-f "$COMPOSE_DIR/env/$ENV/$stack.yml")
  [[ -f "$COMPOSE_DIR/.images.env" ]] && args+=(--env-file "$COMPOSE_DIR/.images.env")
  [[ -f "$COMPOSE_DIR/env/$ENV/$stack.env" ]] && args+=(--env-file "$COMPOSE_DIR/env/$ENV/$stack.env")
  printf '%s\n' "${args[@]}"
}

# all_args: compose arguments for every stack together as one project. Later env files win, so
# an environment's env file may pin an image that .images.env maps to a local one.
all_args() {
  local stack
  local -a files=() envs=()
  [[ -f "$COMPOSE_DIR/.images.env" ]] && envs+=(--env-file "$COMPOSE_DIR/.images.env")
  for stack in "${STACKS[@]}"; do
    files+=(-f "$COMPOSE_DIR/stacks/$stack.yml")
    [[ -f "$COMPOSE_DIR/env/$ENV/$stack.yml" ]] && files+=(-f "$COMPOSE_DIR/env/$ENV/$stack.yml")
    [[ -f "$COMPOSE_DIR/env/$ENV/$stack.env" ]] && envs+=(--env-file "$COMPOSE_DIR/env/$ENV/$stack.env")
  done
  printf '%s\n' --project-name "$PROJECT" "${files[@]}" "${envs[@]}"
}

# validate_all: `docker compose config -q` of each stack alone, then of all together. Prints
# Compose's own error and returns non-zero at the first broken one.
validate_all() {
  local stack out
  local -a args
  for stack in "${STACKS[@]}"; do
    if [[ ! -f "$COMPOSE_DIR/stacks/$stack.yml" ]]; then
      echo "error: no stack file compose/stacks/$stack.yml" >&2; return 1
    fi
    mapfile -t args < <(stack_args "$stack")
    if ! out=$(docker compose --project-name "$PROJECT" "${args[@]}" config -q 2>&1); then
      printf 'error: compose/stacks/%s.yml (env %s) is invalid:\n%s\n' "$stack" "$ENV" "$out" >&2
      return 1
    fi
  done
  mapfile -t args < <(all_args)
  if ! out=$(docker compose "${args[@]}" config -q 2>&1); then
    printf 'error: the stacks %s do not combine (env %s):\n%s\n' "${STACKS[*]}" "$ENV" "$out" >&2
    return 1
  fi
}

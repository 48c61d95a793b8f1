# The estate's Compose files: static checks (nothing is started) and the external networks
# compose/hosts.yml asks for. See docs/compose.md.
.PHONY: validate-compose compose-render compose-lint compose-networks

COMPOSE_STACKS := $(basename $(notdir $(wildcard compose/stacks/*.yml)))
COMPOSE_ENVS := $(notdir $(patsubst %/,%,$(wildcard compose/env/*/)))
# Shell scripts anywhere under compose/: *.sh and files whose first line names sh or bash.
COMPOSE_SCRIPTS = $(shell grep -rlIE --exclude-dir=secrets '^\#!.*/(env )?(ba)?sh' compose; find compose -name '*.sh' -not -path '*/secrets/*')
# Render with only what the Docker CLI needs: a variable exported in the shell must not hide
# one missing from an env file.
COMPOSE_CLEAN_ENV := env -i PATH="$$PATH" HOME="$$HOME" $${DOCKER_HOST:+DOCKER_HOST="$$DOCKER_HOST"}

validate-compose: compose-render compose-lint venv ## every stack renders in every env; yamllint, shellcheck, tests/compose (starts nothing)
	$(PY) -m pytest -q -p no:cacheprovider tests/compose

compose-render: ## `docker compose config -q` for every stack in every env (base + overlay + env file)
	@set -e; for env in $(COMPOSE_ENVS); do for stack in $(COMPOSE_STACKS); do \
	  args="-f compose/stacks/$$stack.yml"; \
	  [ -f compose/env/$$env/$$stack.yml ] && args="$$args -f compose/env/$$env/$$stack.yml"; \
	  [ -f compose/env/$$env/$$stack.env ] && args="$$args --env-file compose/env/$$env/$$stack.env"; \
	  if ! out=$$($(COMPOSE_CLEAN_ENV) docker compose $$args config -q 2>&1); then \
	    printf 'error: compose/stacks/%s.yml does not render for %s:\n%s\n' "$$stack" "$$env" "$$out" >&2; \
	    exit 1; fi; \
	done; echo "compose: $(COMPOSE_STACKS) render for $$env"; done

compose-lint: ## yamllint (relaxed) of compose/, shellcheck of its scripts
	yamllint --no-warnings -d relaxed compose
	shellcheck $(sort $(COMPOSE_SCRIPTS))

# Idempotent; run against each host's engine. `make up` on a host needs these first. A network
# listed under internal_networks is created --internal; an existing one that disagrees is an
# error (recreate it by hand once its containers are stopped).
compose-networks: venv ## create the external networks compose/hosts.yml lists for ENV
	@$(PY) -c 'import sys, yaml; env = yaml.safe_load(open("compose/hosts.yml"))["environments"]; \
	  [print(h["docker_host"], n, str(i).lower()) for h in env[sys.argv[1]]["hosts"].values() \
	   for i, key in ((False, "networks"), (True, "internal_networks")) for n in h.get(key, [])]' \
	  $(ENV) | \
	while read -r host net internal; do \
	  export DOCKER_HOST=$$host; flag=; [ "$$internal" = true ] && flag=--internal; \
	  if have=$$(docker network inspect -f '{{.Internal}}' "$$net" 2>/dev/null); then \
	    [ "$$have" = "$$internal" ] || \
	      { echo "error: $$net on $$host: internal=$$have, expected $$internal" >&2; exit 1; }; \
	  else \
	    docker network create $$flag "$$net" >/dev/null && \
	      echo "created $$net on $$host$${flag:+ ($$flag)}"; \
	  fi; \
	done

# The estate's Compose files: static checks (nothing is started) and the external networks
# compose/hosts.yml asks for. Which files, env files and environment a stack is rendered with
# is decided by the estate tool alone (compose/bin/estate, compose/estate.py). See docs/compose.md.
.PHONY: validate-compose compose-render compose-lint compose-networks

ESTATE := compose/bin/estate
# Shell scripts anywhere under compose/: *.sh and files whose first line names sh or bash.
COMPOSE_SCRIPTS = $(shell grep -rlIE --exclude-dir=secrets '^\#!.*/(env )?(ba)?sh' compose; find compose -name '*.sh' -not -path '*/secrets/*')

validate-compose: compose-render compose-lint venv ## every stack renders in every env and on every host, and the local stack; yamllint, shellcheck, tests/compose (starts nothing)
	$(VALIDATE_PYTEST) tests/compose

compose-render: ## `docker compose config -q` of every stack: alone, on each host (hosts.yml env), and the local stack for ENV
	$(ESTATE) validate

compose-lint: ## yamllint (relaxed) of compose/, shellcheck of its scripts
	yamllint --no-warnings -d relaxed compose
	shellcheck $(sort $(COMPOSE_SCRIPTS))

# Idempotent; run against each host's engine. `make up` on a host needs these first. A network
# listed under internal_networks is created --internal; an existing one that disagrees is an
# error (recreate it by hand once its containers are stopped).
compose-networks: ## create the external networks compose/hosts.yml lists for ENV
	$(ESTATE) networks --env $(ENV) --create

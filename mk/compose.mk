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

# Apply compose/hosts.yml (every host of ENV, or HOST=...): validate every stack (nothing
# starts when one is invalid, an engine cannot be reached or an image cannot be pulled),
# create the networks, start each host's stacks in order and wait until healthy; a table per
# host and stack (JSON: JSON=1). The tool exits 0 all healthy, 1 a stack failed, 2 usage or
# hosts.yml, 3 refused (make itself then exits 2). See docs/compose.md.
.PHONY: estate-up estate-diff
ESTATE_SELECT = --env $(ENV) $(if $(HOST),--host $(HOST)) $(if $(JSON),--json)

estate-up: ## apply compose/hosts.yml for ENV (HOST=one host): validate all, networks, stacks in order, wait healthy
	$(ESTATE) up $(ESTATE_SELECT)

estate-diff: ## what `make estate-up` would change, per service (ENV, HOST=); changes nothing
	$(ESTATE) diff $(ESTATE_SELECT)

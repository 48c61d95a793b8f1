# The local stack: monitoring + agents + napops for ENV, as Compose project napops-$(ENV)
# (NAPOPS_PROJECT overrides it; PROMETHEUS_PORT, ALERTMANAGER_PORT, GRAFANA_PORT move the
# published ports).
.PHONY: up down down-purge validate-stack
validate-stack: ## check the local stack's compose files for ENV render (alone and together)
	compose/bin/stack-validate

# Validate before building or starting anything: a broken compose file changes nothing.
up: ## start the local stack for ENV (default dev), building images and secrets it lacks
	compose/bin/stack-validate
	@# stack-up says which services it leaves out for want of an image: build-images need not
	NAPOPS_IMAGES_QUIET_LEFT_OUT=1 $(MAKE) --no-print-directory images
	$(MAKE) --no-print-directory secrets-local
	compose/bin/stack-up

down: ## remove the local stack's containers, networks and anonymous volumes (keeps data)
	@compose/bin/stack-down

down-purge: ## like down, and also delete the stack's named data volumes (asks CONFIRM=yes outside dev)
	@CONFIRM=$(CONFIRM) compose/bin/stack-down --purge

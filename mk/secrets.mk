# Secrets: Compose file secrets of one environment, in compose/secrets/$(ENV)/ (gitignored,
# the folder kept 0700 and root's). See compose/secrets/README.md.
.PHONY: secrets secrets-local
# The stacks `make up` starts, as the estate tool says (NAPOPS_STACKS overrides them).
LOCAL_STACKS = $(shell ENV=$(ENV) python3 -c 'import sys; sys.path.insert(0, "compose"); \
  from estate import Selection; print(" ".join(Selection.local_stack().stacks))')

secrets: ## create missing secrets of every stack of ENV (HOST=one host's; 0600, random; never overwrites)
	compose/bin/secrets-gen --env $(ENV) $(if $(HOST),--host $(HOST))

secrets-local: ## create missing secrets of the local stack only (what `make up` starts)
	compose/bin/secrets-gen --env $(ENV) --stacks "$(LOCAL_STACKS)"

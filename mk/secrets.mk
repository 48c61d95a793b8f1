# Secrets: Compose file secrets of one environment, in compose/secrets/$(ENV)/ (gitignored).
.PHONY: secrets
secrets: ## create missing secrets for ENV (0600, random; never overwrites); see compose/secrets/README.md
	compose/bin/secrets-gen --env $(ENV)

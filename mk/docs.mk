# Generated documentation. docs/config/<sidecar>.md is each sidecar's configuration reference,
# printed from its schema (the one source of truth); tests/unit/core/test_config_reference.py
# fails when a file differs from what the schema prints.
.PHONY: docs-config
docs-config: venv ## regenerate docs/config/<sidecar>.md from the configuration schemas
	@mkdir -p docs/config
	@for s in $$($(PY) -c 'from napops.core.jobcli import SIDECARS; print(*SIDECARS)'); do \
	  $(VENV)/bin/napops-$$s --print-config-reference > docs/config/$$s.md.tmp && \
	  mv docs/config/$$s.md.tmp docs/config/$$s.md && echo "docs/config/$$s.md"; \
	done

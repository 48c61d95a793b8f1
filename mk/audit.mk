# The hardening policy (compose/policy.yml) applied to the rendered Compose files. See docs/compliance.md.
.PHONY: audit
audit: venv ## hardening audit of every stack in every environment (compose/policy.yml); non-zero on a violation
	$(PY) -m napops.cli audit --static --policy compose/policy.yml

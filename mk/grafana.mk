# Grafana dashboards, Loki and Alloy: static checks only (no container; Grafana, Loki and
# Alloy cannot run here). The check that every dashboard metric is exported starts real
# exporters, so it runs with `make test` (tests/grafana, marker: integration), not here.
.PHONY: validate-grafana

GRAFANA_JSON := $(wildcard grafana/dashboards/*.json)

validate-grafana: venv ## dashboards, datasources, Loki and Alloy configs (static)
	yamllint -s -d '{extends: relaxed, rules: {line-length: {max: 100}}}' grafana loki
	@for f in $(GRAFANA_JSON); do $(PY) -m json.tool "$$f" >/dev/null || { echo "invalid JSON: $$f"; exit 1; }; done
	$(VALIDATE_PYTEST) -m "not integration" tests/grafana tests/logs

# Prometheus, blackbox and Alertmanager configuration checks; nothing is started.
PROMTOOL ?= promtool
AMTOOL ?= amtool
BLACKBOX ?= prometheus-blackbox-exporter
MONITORING_ENVS := dev staging prod

.PHONY: validate-monitoring
validate-monitoring: venv ## promtool check config/rules + rule tests, blackbox config, amtool config + route tests
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for env in $(MONITORING_ENVS); do \
	  echo "== prometheus config with targets/$$env"; \
	  rm -rf "$$tmp/$$env"; mkdir -p "$$tmp/$$env"; \
	  cp -r prometheus/prometheus.yml prometheus/rules "$$tmp/$$env/"; \
	  cp -r "prometheus/targets/$$env" "$$tmp/$$env/targets"; \
	  out=$$($(PROMTOOL) check config "$$tmp/$$env/prometheus.yml" 2>&1) || { echo "$$out"; exit 1; }; \
	  echo "$$out"; if grep -q WARNING <<<"$$out"; then echo "missing target file in $$env"; exit 1; fi; \
	done
	$(PROMTOOL) check rules prometheus/rules/*.yml
	$(if $(IN_TEST),@echo "  (run by make test's pytest run: tests/monitoring/test_prom_config.py) promtool test rules",cd prometheus && $(PROMTOOL) test rules tests/*.test.yml)
	$(BLACKBOX) --config.check --config.file=prometheus/blackbox/blackbox.yml
	$(AMTOOL) check-config alertmanager/alertmanager.yml
	$(VALIDATE_PYTEST) tests/monitoring/test_am_routes.py::test_route

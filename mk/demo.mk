# Watch the system do its job: see compose/bin/demo and the README's first section.
.PHONY: demo
demo: ## stop a monitored container, show the email and Rocket.Chat alert with timings, restore it
	@compose/bin/demo

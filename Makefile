# The two commands of the README: `make up` runs Taskstream, `make test` runs every test.
# Both install what they need first; downloads are cached outside the repository.

.PHONY: up test lint typecheck unit bootstrap schema

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	.venv/bin/taskstream up $(ARGS)

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: bootstrap
	.venv/bin/mypy

schema: bootstrap
	.venv/bin/taskstream schema

test: lint typecheck
	.venv/bin/pytest

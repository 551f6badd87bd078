# Two commands on a fresh machine (Python 3.11 + pip): `make up` runs tripl, `make test` runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test install lint bench clean fuzz

# Quiet: `make up` should open with tripl's own addresses, not pip's chatter (the log keeps it; shown on failure).
$(STAMP): pyproject.toml
	@echo "installing tripl into $(VENV) (log: $(VENV)/install.log)…"
	@$(PY) -m venv $(VENV)
	@{ $(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[test]'; } \
		> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	@$(BIN)/tripl up $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadfile $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Deep property runs over the whole API (schemathesis; derandomized, so the same inputs every run): no 5xx, no
# undocumented status, every body as documented. EXAMPLES per operation and mode (CI's run uses a small budget).
fuzz: $(STAMP)
	TRIPL_PROPERTY_EXAMPLES=$${EXAMPLES:-40} $(BIN)/python -m pytest -p no:xdist --timeout 0 -q \
		tests/api/test_openapi_properties.py tests/api/test_demo_properties.py \
		tests/pipelines/test_properties.py tests/plan_extras/test_properties.py

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .tripl .pytest_cache

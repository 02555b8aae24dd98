# The two that matter: `make demo` (the whole path locally) and `make test` (every check).
PYTHON ?= python3.13
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
ARTIFACT := .aws-sam/build/WebhookFunction
export PATH := $(BIN):$(PATH)
export PYTHONPATH := src:.
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

events: $(STAMP)  ## sign the timestamped events again, for sam local invoke (valid 5 minutes)
	$(BIN)/python -m sandbox.resign

.PHONY: demo serve events redrive bench test lint typecheck cfn-lint pytest build artifact-test clean

$(STAMP): requirements-dev.txt src/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)  ## run every event in events/ through the local stack and show what happened
	$(BIN)/python -m sandbox.demo

serve: $(STAMP)  ## the local stack in the foreground on http://127.0.0.1:3000, for curl
	$(BIN)/python -m sandbox.serve $(SERVE_ARGS)

redrive: $(STAMP)  ## move dead letters back to the retry queue, on the stand-ins of a running make serve
	$(BIN)/python -m sandbox.redrive

bench: build  ## cold start, warm overhead, memory and size against the floor and a hand-written peer
	$(BIN)/python -m bench.run

test: lint typecheck cfn-lint pytest artifact-test  ## every check, as CI runs it

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

pytest: $(STAMP)  ## unit and integration tests on src/
	$(BIN)/pytest

build: $(STAMP)  ## sam build: the deployable artifact in .aws-sam/build
	$(BIN)/sam build --template template.yaml

artifact-test: build  ## the integration tests again, on the built artifact instead of src/
	OWNER_WEBHOOK_ARTIFACT=$(abspath $(ARTIFACT)) $(BIN)/pytest tests/integration

clean:
	rm -rf .aws-sam .demo .pytest_cache .mypy_cache .ruff_cache

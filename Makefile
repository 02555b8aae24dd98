# The two that matter: `make demo` (the whole path locally) and `make test` (every check).
# Values given to make are text. A variable set on make's command line is made plain text first, before make
# could expand it (make runs a `$(shell ...)` written in a value it exports); no recipe writes a value into its
# command line: each target passes the values it takes to its program as environment variables, which no shell
# parses (tests/integration/test_make_values.py). Sub-makes (sam build's src/Makefile) get none of them.
$(foreach name,$(.VARIABLES),$(if $(filter command line,$(origin $(name))),$(eval override $(name) := $$(value $(name)))))
MAKEOVERRIDES :=
# What reaches another make as a value (sam build hands ARCH and PYTHON to src/Makefile, which expands and runs
# them) must be plain: one word of letters, digits and _ . / + - (a path, arm64).
PLAIN_CHARACTERS := A B C D E F G H I J K L M N O P Q R S T U V W X Y Z a b c d e f g h i j k l m n o p q r s t u v w \
	x y z 0 1 2 3 4 5 6 7 8 9 _ . / + -
_beyond = $(if $(2),$(call _beyond,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
plain = $(and $(filter 1,$(words $(1))),$(if $(call _beyond,$(1),$(PLAIN_CHARACTERS)),,yes))
PYTHON_GIVEN := $(filter override,$(origin PYTHON))
PYTHON ?= python3.13
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
# The runtime-like interpreter: what Lambda's python3.13 runtime provides (awslambdaric, boto3), nothing else.
RUNTIME := .runtime
RUNTIME_STAMP := $(RUNTIME)/.installed
# The infrastructure scanner in an environment of its own (its dependencies would move the development pins).
SCAN := .scan
SCAN_STAMP := $(SCAN)/.installed
# The AWS emulator of make deploy-check (MiniStack) in an environment of its own, as the scanner.
DEPLOY := .deploy
DEPLOY_STAMP := $(DEPLOY)/.installed
ARTIFACT := .aws-sam/build/WebhookFunction
# The deployed functions are arm64; ARCH=x86_64 builds for sam local on an x86_64 machine (README).
ARCH ?= arm64
EVENT ?= events/zapier-success.json
FUNCTION ?= WebhookFunction
# make dead-letters / redrive / lookup: the local stack of make serve unless STACK names a deployed one.
STACK ?=
# make preflight: the parameters you deploy with, as Name=value words (PARAMETERS="QueueEveryDelivery=true"),
# beyond those samconfig.toml keeps for CONFIG_ENV (default: default).
PARAMETERS ?=
CONFIG_ENV ?=
ID ?=
PHONE ?=
# make lookup: the region of a phone written without country code (default: the stack's DefaultPhoneRegion);
# ENDPOINT: the local moto server when make serve runs on other ports.
REGION_CODE ?=
ENDPOINT ?=
# make serve's options, read by sandbox/serve.py as a shell would split them (without running anything).
SERVE_ARGS ?=
# make refused / replay-refused: which kept refusals (SOURCE=<source>, SINCE=2026-12-04 or 36h, ID=<id>), DRY_RUN=1;
# LAMBDA_ENDPOINT: make serve's endpoint on another port.
SOURCE ?=
SINCE ?=
DRY_RUN ?=
LAMBDA_ENDPOINT ?=
# make send SOURCE=<route> [BODY=<file>] [HEADERS=<file>] [DRY_RUN=1] [SECRET=..] [URL=<WebhookBaseUrl>]; make
# check-recipe NAME=<route> BODY=<file> [HEADERS=<file>]; RECIPES: another folder of recipes (make serve's too);
# make local-secret SOURCE=<route> [SECRET=..] [KEEP_OLD=1], or API_KEY=<key>.
BODY ?=
HEADERS ?=
SECRET ?=
URL ?=
NAME ?=
RECIPES ?=
KEEP_OLD ?=
API_KEY ?=
# The same, for a value given in the environment (PHONE=... make lookup) and for the defaults above.
VALUES := PYTHON ARCH EVENT FUNCTION STACK ID PHONE REGION_CODE ENDPOINT SERVE_ARGS SOURCE SINCE DRY_RUN LAMBDA_ENDPOINT \
	PARAMETERS CONFIG_ENV BODY HEADERS SECRET URL NAME RECIPES KEEP_OLD API_KEY
$(foreach name,$(VALUES),$(eval override $(name) := $$(value $(name))))
export PATH := $(BIN):$(PATH)
export PYTHONPATH := src:.
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1
# pytest-xdist: one process per core (at most 4), each with its own stand-ins on free ports.
PARALLEL := --numprocesses=auto --maxprocesses=4
# Each requirements*.txt is the list a person edits; beside it, its .lock pins every package with the
# hashes of all its files, and is what gets installed (pip checks the hashes). Edit a list, then `make lock`.
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.13 --custom-compile-command "make lock"

.DEFAULT_GOAL := help
.PHONY: help demo serve send check-recipe local-secret events invoke dead-letters redrive lookup refused replay-refused \
	bench test lint typecheck cfn-lint validate scan pytest build runtime artifact-test deploy-check preflight \
	sam-local-check lock clean

help:  ## this list (bare `make` changes nothing)
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { name[++n] = $$1; text[$$1] = $$2 } END { \
		for (i = 1; i <= n; i++) if (name[i] == "demo" || name[i] == "test") printf "make %-16s %s\n", name[i], text[name[i]]; \
		print ""; \
		for (i = 1; i <= n; i++) if (name[i] != "demo" && name[i] != "test") printf "make %-16s %s\n", name[i], text[name[i]] }' \
		$(firstword $(MAKEFILE_LIST))

events: $(STAMP)  ## sign the timestamped events again, for sam local invoke (valid 5 minutes)
	$(BIN)/python -m sandbox.resign

$(STAMP): export PYTHON := $(PYTHON)
$(STAMP): requirements-dev.lock
	"$$PYTHON" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

$(RUNTIME_STAMP): requirements-runtime.lock | $(STAMP)
	rm -rf $(RUNTIME)
	$(BIN)/python -m venv $(RUNTIME)
	$(RUNTIME)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements-runtime.lock
	touch $(RUNTIME_STAMP)

$(SCAN_STAMP): requirements-scan.lock | $(STAMP)
	rm -rf $(SCAN)
	$(BIN)/python -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-scan.lock
	touch $(SCAN_STAMP)

$(DEPLOY_STAMP): requirements-deploy.lock | $(STAMP)
	rm -rf $(DEPLOY)
	$(BIN)/python -m venv $(DEPLOY)
	$(DEPLOY)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-deploy.lock
	touch $(DEPLOY_STAMP)

# The development tools resolved with their dependencies, for every platform; the bundle and the runtime
# exactly as listed (they install without dependencies), with the hashes of every platform's wheels.
lock: $(STAMP)  ## pin again after editing a requirements*.txt or src/requirements.txt
	$(LOCK) --universal requirements-dev.txt -o requirements-dev.lock
	$(LOCK) --universal --no-deps src/requirements.txt -o src/requirements.lock
	$(LOCK) --universal --no-deps requirements-runtime.txt -o requirements-runtime.lock
	$(LOCK) --universal requirements-scan.txt -o requirements-scan.lock
	$(LOCK) --universal requirements-deploy.txt -o requirements-deploy.lock

runtime: $(RUNTIME_STAMP)  ## the runtime-like interpreter in .runtime (awslambdaric and boto3, pinned)

demo: $(STAMP)  ## run every event in events/ through the local stack and show what happened
	$(BIN)/python -m sandbox.demo

serve: export SERVE_ARGS := $(SERVE_ARGS)
serve: export RECIPES := $(RECIPES)
serve: $(STAMP)  ## the local stack in the foreground on http://127.0.0.1:3000: every route, its local secret, make send
	$(BIN)/python -m sandbox.serve

# The secret is SECRET in the environment, make serve's local one, or asked for; never on a command line.
send: export SOURCE := $(SOURCE)
send: export BODY := $(BODY)
send: export HEADERS := $(HEADERS)
send: export DRY_RUN := $(DRY_RUN)
send: export SECRET := $(SECRET)
send: export URL := $(URL)
send: export RECIPES := $(RECIPES)
send: $(STAMP)  ## SOURCE=<route> [BODY=<file>] [DRY_RUN=1]: signed as that sender signs, sent, the answer shown
	@$(BIN)/python -m tools.send

check-recipe: export NAME := $(NAME)
check-recipe: export BODY := $(BODY)
check-recipe: export HEADERS := $(HEADERS)
check-recipe: export REGION_CODE := $(REGION_CODE)
check-recipe: export RECIPES := $(RECIPES)
check-recipe: $(STAMP)  ## NAME=<route> BODY=<file>: what its recipe reads (event, phone, region, id) and the answer
	@$(BIN)/python -m tools.check_recipe

local-secret: export SOURCE := $(SOURCE)
local-secret: export SECRET := $(SECRET)
local-secret: export KEEP_OLD := $(KEEP_OLD)
local-secret: export API_KEY := $(API_KEY)
local-secret: export ENDPOINT := $(ENDPOINT)
local-secret: $(STAMP)  ## make serve's secret changed: SOURCE=<route> [KEEP_OLD=1] (asks for it), or API_KEY=<key>
	@$(BIN)/python -m tools.local_secret

invoke: export EVENT := $(EVENT)
invoke: export FUNCTION := $(FUNCTION)
invoke: build runtime  ## EVENT=events/<file>.json [FUNCTION=ForwarderFunction]: the built artifact in the Lambda runtime
	$(BIN)/python -m sandbox.invoke "$$EVENT" --function "$$FUNCTION"

dead-letters redrive: export STACK := $(STACK)
dead-letters redrive: export ENDPOINT := $(ENDPOINT)
redrive: export ID := $(ID)
dead-letters: $(STAMP)  ## what waits in the dead-letter queue (make serve's, or STACK=<name>'s): source, masked phone, why
	$(BIN)/python -m tools.dead_letters list

redrive: $(STAMP)  ## dead letters back to the retry queue: all, or ID=<message id>; make serve's, or STACK=<name>'s
	$(BIN)/python -m tools.dead_letters redrive

# The phone is asked for (or PHONE=...), and reaches the tool in its environment, never in a command line.
lookup: export PHONE := $(PHONE)
lookup: export STACK := $(STACK)
lookup: export REGION_CODE := $(REGION_CODE)
lookup: export ENDPOINT := $(ENDPOINT)
lookup: $(STAMP)  ## what the table knows of a phone it asks for (make serve's, or STACK=<name>'s), masked
	@$(BIN)/python -m tools.lookup

refused replay-refused: export STACK := $(STACK)
refused replay-refused: export SOURCE := $(SOURCE)
refused replay-refused: export SINCE := $(SINCE)
refused replay-refused: export ENDPOINT := $(ENDPOINT)
refused replay-refused: export LAMBDA_ENDPOINT := $(LAMBDA_ENDPOINT)
replay-refused: export ID := $(ID)
replay-refused: export DRY_RUN := $(DRY_RUN)
refused: $(STAMP)  ## what was refused and kept (make serve's, or STACK=<name>'s; SOURCE=, SINCE=): why, masked phone
	$(BIN)/python -m tools.refused list

replay-refused: $(STAMP)  ## kept refusals again, through today's recipes: all, ID=, SOURCE= or SINCE=; DRY_RUN=1 first
	$(BIN)/python -m tools.refused replay

bench: build runtime  ## cold start, warm overhead, memory and size against the floor, the library floor and a peer; instructions; the deployed path; the burst soak
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.instructions
	$(BIN)/python -m bench.deployed
	$(BIN)/python -m bench.burst

test: lint typecheck cfn-lint validate scan pytest artifact-test deploy-check  ## every check, as CI runs it

lint: $(STAMP)  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy (strict on the function)
	$(BIN)/mypy

cfn-lint: $(STAMP)  ## cfn-lint template.yaml
	$(BIN)/cfn-lint template.yaml

# The SAM transform as sam deploy runs it, offline: errors in the Serverless resources that cfn-lint alone misses.
validate: $(STAMP)  ## sam validate --lint (no AWS account needed)
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null $(BIN)/sam validate --lint --region eu-central-1

# Offline (--skip-download): the checks that fail are fixed or skipped in template.yaml with their reason.
scan: $(SCAN_STAMP)  ## checkov on template.yaml: every finding fixed or skipped in the template with a reason
	$(SCAN)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

pytest: $(STAMP)  ## unit tests on src/ (`.venv/bin/pytest` alone also runs the integration tests on src/)
	$(BIN)/pytest tests/unit

build: export ARCH := $(ARCH)
ifneq ($(PYTHON_GIVEN),)
build: export PYTHON := $(PYTHON)
endif
build: $(STAMP)  ## sam build: the deployable artifact in .aws-sam/build
	$(if $(and $(call plain,$(ARCH)),$(filter arm64 x86_64,$(ARCH))),,$(error ARCH must be arm64 or x86_64))
	$(if $(call plain,$(PYTHON)),,$(error PYTHON must be a plain path to python3.13 (letters, digits, _ . / + -)))
	ARCHITECTURE="$$ARCH" $(BIN)/sam build --template template.yaml --parameter-overrides "Architecture=$$ARCH"

artifact-test: build runtime  ## the integration tests on the built artifact, and the artifact in the Lambda runtime
	OWNER_WEBHOOK_ARTIFACT=$(abspath $(ARTIFACT)) $(BIN)/pytest tests/integration $(PARALLEL)
	$(BIN)/pytest tests/runtime $(PARALLEL)

# Not echoed: a failure prints what went wrong itself.
deploy-check: $(STAMP) $(DEPLOY_STAMP)  ## template.yaml deployed to an AWS emulator (MiniStack) by sam deploy, then used
	@$(BIN)/python -m sandbox.deploy_check

preflight: export STACK := $(STACK)
preflight: export PARAMETERS := $(PARAMETERS)
preflight: export CONFIG_ENV := $(CONFIG_ENV)
preflight: $(STAMP)  ## before a deploy: does the account's Lambda concurrency fit the stack? [STACK=<name>] [PARAMETERS=...]
	@$(BIN)/python -m tools.preflight

sam-local-check: $(STAMP)  ## with Docker: the sam local lines of docs/local.md against make serve (not part of make test)
	$(BIN)/python -m sandbox.sam_local

clean:  ## remove the build, the runtime-like interpreter and the caches
	rm -rf .aws-sam .runtime .scan .deploy .demo .pytest_cache .mypy_cache .ruff_cache

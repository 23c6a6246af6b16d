# Emulators you start yourself, to run the Rust suites against them instead of those
# `make test-rust` starts (docs/emulators.md). Each runs in the foreground until Ctrl-C.
# Included from the top Makefile, which defines EMU, DYNAMODB_LOCAL_VERSION and java.
#
#   make localstack       LocalStack (community, no Docker) on 127.0.0.1:$(LOCALSTACK_PORT) for SQS,
#                         SNS and Secrets Manager; it has no SES v2, and its DynamoDB would
#                         download DynamoDB Local at run time, so neither is asked of it
#   make dynamodb-local   DynamoDB Local on 127.0.0.1:$(DYNAMODB_LOCAL_PORT)
#
# then, in another shell:
#   AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 AWS_ENDPOINT_URL=http://127.0.0.1:4566 make test-rust

LOCALSTACK_VENV := .venv-localstack
LOCALSTACK_VERSION := 2026.3.0
# localstack-core runs without Docker only on Python 3.12 or newer (Debian 12 has 3.11): name
# one, e.g. make localstack LOCALSTACK_PYTHON=~/.pyenv/versions/3.13.0/bin/python3
LOCALSTACK_PYTHON ?= python3
# localstack-core 2026.3.0 starts on the host only with these pinned (their newest releases do not
# work with it).
LOCALSTACK_PINS := 'cbor2<6' 'pyopenssl==24.2.1' 'cryptography>=42,<44' 'joserfc<1.1' 'service_identity<24.3'
LOCALSTACK_PORT ?= 4566
DYNAMODB_LOCAL_PORT ?= 8000

.PHONY: localstack dynamodb-local

$(LOCALSTACK_VENV)/.localstack-$(LOCALSTACK_VERSION):
	@$(LOCALSTACK_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || { \
		echo "error: LocalStack needs Python 3.12 or newer, and $(LOCALSTACK_PYTHON) is $$($(LOCALSTACK_PYTHON) --version 2>&1)." >&2; \
		echo "       Name one: make localstack LOCALSTACK_PYTHON=/path/to/python3.12-or-newer" >&2; exit 1; }
	$(LOCALSTACK_PYTHON) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet 'localstack-core[runtime]==$(LOCALSTACK_VERSION)' $(LOCALSTACK_PINS)
	touch $@

# GATEWAY_LISTEN, LOCALSTACK_HOST and SQS_ENDPOINT_STRATEGY=path keep it on loopback (queue URLs
# are http://127.0.0.1:4566/queue/..., not on localhost.localstack.cloud, which needs DNS); DNS_ADDRESS=0, SKIP_SSL_CERT_DOWNLOAD and
# DISABLE_EVENTS stop its DNS server, its certificate download and its analytics, which would
# reach the internet.
localstack: $(LOCALSTACK_VENV)/.localstack-$(LOCALSTACK_VERSION)
	GATEWAY_LISTEN=127.0.0.1:$(LOCALSTACK_PORT) LOCALSTACK_HOST=127.0.0.1:$(LOCALSTACK_PORT) \
		SERVICES=sqs,sns,secretsmanager SQS_ENDPOINT_STRATEGY=path DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
		$(LOCALSTACK_VENV)/bin/python -m localstack.runtime.main

dynamodb-local: $(EMU)/.dynamodb-local-$(DYNAMODB_LOCAL_VERSION) java
	python3 scripts/emulators.py --serve dynamodb-local --port $(DYNAMODB_LOCAL_PORT)

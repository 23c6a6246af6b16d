# Build, synthesize and deploy the AWS stack (infra/, an AWS CDK app). Included from the top
# Makefile, which defines VENV and PY; the defaults below let this file stand alone too.
#
#   make build        cargo lambda build --profile lambda --arm64 of the six functions -> target/lambda/<fn>/bootstrap
#   make infra-test   the CDK assertion tests (cdk-nag included), then cfn-lint on the synthesized
#                     template (offline once infra/node_modules and .venv's cfn-lint are installed)
#   make synth        synthesize ReferralTrackerStack from the prebuilt binaries into infra/cdk.out
#   make deploy       cdk deploy (needs AWS credentials and a bootstrapped account: docs/deploy.md)
#
# Extra CDK options go in CDK_ARGS, e.g. make deploy CDK_ARGS="-c budgetEmail=me@example.com"

VENV ?= .venv
INFRA_DIR := infra
RFT_FUNCTIONS := rft-edge rft-minter rft-attributor rft-rewarder rft-screen rft-sweep
# The PyPI packages that bring cargo-lambda and the zig linker it cross-compiles with, pinned:
# a new zig can change the linker under a build that worked.
CARGO_LAMBDA_PKGS ?= cargo-lambda==1.9.2 ziglang==0.17.0
CFN_LINT_VERSION := 1.58.0
# Where infra-test writes the template it lints.
LINT_TEMPLATE := target/infra-lint/ReferralTrackerStack.template.json
CDK_ARGS ?=
# Where `make build` leaves the binaries (cargo lambda's default), handed to the CDK app.
LAMBDA_ASSET_ROOT ?= target/lambda
# npm writes this file on every install: newer than package-lock.json means installed from it.
INFRA_STAMP := $(INFRA_DIR)/node_modules/.package-lock.json

.PHONY: infra-deps infra-test synth deploy build check-lambda-assets

infra-deps: $(INFRA_STAMP)

$(INFRA_STAMP): $(INFRA_DIR)/package.json $(INFRA_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js 20 or newer" >&2; exit 1; }
	cd $(INFRA_DIR) && npm ci --no-audit --no-fund
	@touch $@

# The tests synthesize with cdk-nag's AwsSolutions checks (a finding the stack does not
# acknowledge fails them); cfn-lint then checks the template (W3005 is acknowledged per resource
# in the template's metadata, with the reason in infra/lib/stack.ts).
infra-test: infra-deps $(VENV)/.cfn-lint-$(CFN_LINT_VERSION)
	cd $(INFRA_DIR) && npm run --silent typecheck && npm test
	cd $(INFRA_DIR) && node --import tsx test/synth-for-lint.ts $(abspath $(LINT_TEMPLATE))
	$(VENV)/bin/cfn-lint $(LINT_TEMPLATE)
	@echo "cfn-lint: $(LINT_TEMPLATE) has no errors or warnings"

$(VENV)/.cfn-lint-$(CFN_LINT_VERSION):
	@test -x $(VENV)/bin/pip || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@

check-lambda-assets:
	@missing=""; \
	for fn in $(RFT_FUNCTIONS); do \
	  [ -f $(LAMBDA_ASSET_ROOT)/$$fn/bootstrap ] || missing="$$missing $$fn"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "error: no prebuilt Lambda binary for:$$missing (expected $(LAMBDA_ASSET_ROOT)/<fn>/bootstrap)." >&2; \
	  echo "       Run 'make build' first." >&2; \
	  exit 1; \
	fi

synth: infra-deps check-lambda-assets
	cd $(INFRA_DIR) && npx cdk synth --quiet -c lambdaAssetRoot=$(abspath $(LAMBDA_ASSET_ROOT)) $(CDK_ARGS)
	@echo "template: $(INFRA_DIR)/cdk.out/ReferralTrackerStack.template.json"

deploy: infra-deps check-lambda-assets
	cd $(INFRA_DIR) && npx cdk deploy -c lambdaAssetRoot=$(abspath $(LAMBDA_ASSET_ROOT)) $(CDK_ARGS)

build:
	@command -v rustup >/dev/null || { echo "error: rustup not found: make build needs rustup to add the aarch64 target" >&2; exit 1; }
	@test -x $(VENV)/bin/pip || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet $(CARGO_LAMBDA_PKGS)
	@rustup target add aarch64-unknown-linux-gnu || { \
	  echo "error: could not install the aarch64-unknown-linux-gnu standard library (rustup target add failed)." >&2; \
	  echo "       The Lambdas are arm64; cross-compiling needs it. Check the network or your rustup toolchain." >&2; \
	  exit 1; }
	PATH="$(abspath $(VENV))/bin:$$PATH" cargo lambda build --profile lambda --arm64 $(addprefix -p ,$(RFT_FUNCTIONS))
	@for fn in $(RFT_FUNCTIONS); do ls -l target/lambda/$$fn/bootstrap; done

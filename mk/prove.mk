# Proving it holds beyond `make test`: fuzzing and the long API run, and the load test.
# Included from the top Makefile (which defines VENV, PY and API_EXAMPLES).
#
#   make fuzz    each libFuzzer target for FUZZ_SECONDS (default 600) from the committed seeds,
#                then schemathesis with FUZZ_API_EXAMPLES examples per operation; the exec
#                counts go to target/fuzz-report.txt
#   make bench   regenerates docs/benchmarks.md (scripts/bench.py): criterion, the redirect over
#                HTTP against a bare axum floor, cold start, binary sizes (make build), AWS calls
#                and cost, a callgrind profile
#   make load    60 s of clicks on /r/{code} against a release rft-local with oha, every served
#                click counted in the click log, then 1,000 referrals signed up and converted
#                concurrently with duplicates, the ledger checked to the penny
#
# cargo-fuzz and oha are installed from crates.io into .tools/ (git-ignored) on first use.
# cargo fuzz needs nightly-only compiler flags (sanitizers, coverage); RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept them, so no second toolchain is needed.

TOOLS := .tools
CARGO_FUZZ_VERSION := 0.13.2
OHA_VERSION := 1.16.0
FUZZ_TARGETS := signature code settings ops_link json_bodies
FUZZ_SECONDS ?= 600
FUZZ_API_EXAMPLES ?= 500
LOAD_SECONDS ?= 60
LOAD_REFERRALS ?= 1000

.PHONY: fuzz fuzz-targets fuzz-api load bench

$(TOOLS)/bin/cargo-fuzz:
	cargo install --quiet --locked --root $(TOOLS) cargo-fuzz@$(CARGO_FUZZ_VERSION)

$(TOOLS)/bin/oha:
	cargo install --quiet --locked --root $(TOOLS) oha@$(OHA_VERSION)

fuzz: fuzz-targets fuzz-api

# Each target starts from fuzz/seeds/<target> (committed) plus what earlier runs found in
# fuzz/corpus/<target> (not committed); new finds go to the latter. A crash, a panic, a leak or
# an input running over 10 s stops the run and leaves the input in fuzz/artifacts/<target>.
fuzz-targets: $(TOOLS)/bin/cargo-fuzz
	RUSTC_BOOTSTRAP=1 $(TOOLS)/bin/cargo-fuzz build --fuzz-dir fuzz
	@mkdir -p target && : > target/fuzz-report.txt
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		RUSTC_BOOTSTRAP=1 $(TOOLS)/bin/cargo-fuzz run --fuzz-dir fuzz $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
			2> target/fuzz-$$t.log || { tail -40 target/fuzz-$$t.log; exit 1; }; \
		printf '%s\t%s\n' $$t "$$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' target/fuzz-$$t.log | tr '\n' ' ')" \
			| tee -a target/fuzz-report.txt; \
	done

fuzz-api: local-bin $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
	$(PY) scripts/api_check.py --max-examples $(FUZZ_API_EXAMPLES)

load: $(TOOLS)/bin/oha
	cargo build --release --workspace --bin rft-local
	python3 scripts/load.py --binary target/release/rft-local --oha $(TOOLS)/bin/oha \
		--seconds $(LOAD_SECONDS) --referrals $(LOAD_REFERRALS)

bench: build $(TOOLS)/bin/oha $(VENV)/.moto-$(MOTO_VERSION) $(EMU)/.dynamodb-local-$(DYNAMODB_LOCAL_VERSION) java
	@command -v valgrind >/dev/null || $(SUDO) apt-get install -y -q valgrind
	$(PY) scripts/bench.py

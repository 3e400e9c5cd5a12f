# flowhook — the two commands are `go run ./server/cmd/flowhook dev` (or `make run`) and
# `make test`. Everything else here is what they are made of.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BUF := $(GO) tool -modfile=tools/buf/go.mod buf
SDK := sdk/typescript
CONSOLE := console
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# The generated trees; `make generate` must leave them exactly as committed.
GENERATED := gen ent $(SDK)/src/gen server/internal/console/dist
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
# The Jaeger the tests run (server/internal/jaegertest), cached outside the repository by `make jaeger`.
JAEGER_BIN := $(shell bash tools/ensure-jaeger.sh --path)
export FLOWHOOK_JAEGER_BIN ?= $(JAEGER_BIN)

.PHONY: run build generate check-generated lint breaking test test-go test-sdk test-console console-screenshots test-readme migration ensure-postgres jaeger jaeger-run bench bench-go bench-sdk fuzz soak clean

## run: `flowhook dev` — embedded SQLite in ./.flowhook, the sandbox providers (http://127.0.0.1:8080)
run:
	$(GO) run ./server/cmd/flowhook dev

## build: bin/flowhook with the version and commit linked in
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/flowhook ./server/cmd/flowhook

## test: everything CI checks — generated code fresh, lint, every Go test (race detector) on
##       PostgreSQL and SQLite, and the TypeScript SDK against the running server. Starts
##       PostgreSQL when it is down; fails when it cannot.
test: ensure-postgres check-generated lint test-go test-sdk test-console test-readme

test-go: jaeger
	@bash tools/ensure-tools.sh jq
	$(GO) test -race -count=1 ./...

ensure-postgres:
	bash tools/ensure-postgres.sh

## test-sdk: the TypeScript SDK's tests: builds the server (race detector on) and the provider
##           fakes, then sdk/typescript's `npm test` starts them and drives them through the SDK,
##           in Node and in headless Chromium (installed with apt when missing)
test-sdk: $(SDK)/node_modules/.installed
	@bash tools/ensure-chromium.sh
	@bindir=$$(mktemp -d); trap 'rm -rf "$$bindir"' EXIT; \
	$(GO) build -race -o "$$bindir/flowhook" ./server/cmd/flowhook; \
	$(GO) build -o "$$bindir/fakeproviders" ./server/cmd/fakeproviders; \
	cd $(SDK) && FLOWHOOK_BIN="$$bindir/flowhook" FLOWHOOK_FAKES_BIN="$$bindir/fakeproviders" npm test

## test-console: the browser console's tests: builds the server (with the console embedded), then
##               console's `npm test` starts `flowhook dev` and drives the console in headless Chromium,
##               with an axe-core accessibility check on every page
test-console: $(CONSOLE)/node_modules/.installed
	@bash tools/ensure-chromium.sh
	@bindir=$$(mktemp -d); trap 'rm -rf "$$bindir"' EXIT; \
	$(GO) build -o "$$bindir/flowhook" ./server/cmd/flowhook; \
	cd $(CONSOLE) && FLOWHOOK_BIN="$$bindir/flowhook" npm test

## console-screenshots: the console's tests, saving screenshots of the main pages into docs/console
console-screenshots: $(CONSOLE)/node_modules/.installed
	@bash tools/ensure-chromium.sh
	@bindir=$$(mktemp -d); trap 'rm -rf "$$bindir"' EXIT; \
	$(GO) build -o "$$bindir/flowhook" ./server/cmd/flowhook; \
	cd $(CONSOLE) && FLOWHOOK_BIN="$$bindir/flowhook" FLOWHOOK_SCREENSHOTS="$(CURDIR)/docs/console" npm test

## test-readme: runs the README's worked example, exactly as written, against a fresh `flowhook dev`
test-readme:
	@bash tools/readme-example.sh

## jaeger-run: a Jaeger v2.13.0 for a developer, every port on 127.0.0.1 (OTLP/HTTP :4318, query API :16686)
jaeger-run: jaeger
	"$(JAEGER_BIN)" --config tools/jaeger/local.yaml

## jaeger: the Jaeger the Go tests trace into, built once (minutes) into ~/.cache/flowhook under a
##         name from its version and tools/jaeger/go.sum; instant once built. The tests find it
##         through FLOWHOOK_JAEGER_BIN, which this Makefile exports.
jaeger:
	@GO=$(GO) bash tools/ensure-jaeger.sh

$(SDK)/node_modules/.installed: $(SDK)/package.json $(SDK)/package-lock.json
	cd $(SDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE)/node_modules/.installed: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## generate: gen/ (protoc-gen-go, connect-go), $(SDK)/src/gen (protoc-gen-es), ent/ and the
##           console's build (server/internal/console/dist, embedded in the binary; reproducible)
generate: $(SDK)/node_modules/.installed $(CONSOLE)/node_modules/.installed
	$(BUF) generate
	$(GO) generate ./ent
	cd $(CONSOLE) && npx vite build --logLevel warn

## check-generated: fails when `make generate` changes any generated file
check-generated:
	@before=$$(find $(GENERATED) -type f -print0 | sort -z | xargs -0 sha256sum); \
	$(MAKE) --no-print-directory generate; \
	after=$$(find $(GENERATED) -type f -print0 | sort -z | xargs -0 sha256sum); \
	if [ "$$before" != "$$after" ]; then \
	  diff <(echo "$$before") <(echo "$$after") || true; \
	  echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1; \
	fi; echo "generated code is fresh"

## lint: buf lint and breaking, go vet, gofmt, the SDK's and the console's type checks
lint: breaking $(SDK)/node_modules/.installed $(CONSOLE)/node_modules/.installed
	$(BUF) lint
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v -E '^(gen|ent)/' ; git ls-files --others --exclude-standard '*.go' | grep -v -E '^(gen|ent)/')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out" >&2; exit 1; fi
	cd $(SDK) && npx tsc --noEmit
	cd $(CONSOLE) && npx tsc --noEmit -p tsconfig.json && npx tsc --noEmit -p tsconfig.test.json

## breaking: the API contract against the previous commit, when it has one with proto/
breaking:
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto 2>/dev/null; then \
	  $(BUF) breaking proto --against '.git#ref=HEAD~1,subdir=proto' && echo "no breaking API changes since HEAD~1"; \
	else echo "buf breaking: no previous commit with proto/ to compare against"; fi

## migration: write the migrations that bring ent/migrate/{postgres,sqlite} up to ent/schema
migration: ensure-postgres
	@test -n "$(NAME)" || (echo "usage: make migration NAME=add_something" >&2; exit 2)
	$(GO) run ./server/cmd/migrationgen -name $(NAME)

## soak: the chaos soak, for minutes: 2,000 instances through 3 replicas on a PostgreSQL of its own,
##       SIGKILLs and immediate PostgreSQL stops, every notification ×3; prints its table, fails on
##       anything lost, doubled or stranded (`make test` runs a short one: server/cmd/soak TestSoak)
soak:
	$(GO) run ./server/cmd/soak -instances 2000 -replicas 3 -kills 3 -restarts 2 -duration 5m -settle 6m

FUZZTIME ?= 30s
## fuzz: every fuzz target, one after another, FUZZTIME each (default 30s); prints target → time → execs → result; fails on a finding
fuzz:
	FUZZTIME=$(FUZZTIME) bash tools/fuzz.sh

## bench: throughput and latency as ratios to PostgreSQL's own rate, in one sitting: pgbench's
##        insert+update script, then server/cmd/loadgen against a fresh `flowhook serve` on the
##        same PostgreSQL, then pgbench again, then the lists on 100,000 instances; with
##        BENCH_MEMORY=10m also memory at half the saturated rate (tools/bench.sh; results in
##        bench-out/)
bench: ensure-postgres
	bash tools/bench.sh

## bench-go: the Go benchmarks on PostgreSQL
bench-go: ensure-postgres
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-sdk: calls per second and latency through the TypeScript SDK, per transport
bench-sdk: $(SDK)/node_modules/.installed
	cd $(SDK) && npm run bench

clean:
	rm -rf bin flowhook-data .flowhook

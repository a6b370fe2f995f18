# GatheRing: `make run` starts the server with its dashboard on an embedded PostgreSQL;
# `make test` runs every check CI runs. Both install what a fresh Debian machine lacks.
GO        ?= go
BIN       := bin/gathering
GOFILES    = $(shell find . -name '*.go' -not -path './dashboard/node_modules/*')
SQLC       = $(shell scripts/install-sqlc.sh | tail -n 1)

.PHONY: run build dashboard dashboard-check screenshots test unit lint generate sqlc-check bench migrate clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/gathering

# Development defaults for the first administrator; set your own in the environment.
ADMIN_EMAIL    ?= admin@example.com
ADMIN_PASSWORD ?= gathering-admin-password

# The console is built from dashboard/ when Node is present; without Node the binary embeds the
# build committed in dashboard/dist.
run:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory dashboard; \
	else echo "node not found: serving the committed console build (dashboard/dist)"; fi
	$(MAKE) --no-print-directory build
	@scripts/ensure-postgres.sh --binaries-only >/dev/null
	ADMIN_EMAIL='$(ADMIN_EMAIL)' ADMIN_PASSWORD='$(ADMIN_PASSWORD)' $(BIN) serve

dashboard:
	@scripts/ensure-npm.sh dashboard >/dev/null
	cd dashboard && npm run build --silent

# Type checks and unit tests of the console; its end-to-end suite is a Go test (dashboard/e2e_test.go).
dashboard-check:
	@scripts/ensure-npm.sh dashboard >/dev/null
	cd dashboard && npx tsc -b && npx vitest run

# Refreshes docs/screenshots from a run of the end-to-end suite.
screenshots:
	@scripts/ensure-postgres.sh
	E2E_SCREENSHOTS=docs/screenshots $(GO) test -count=1 -run TestConsoleEndToEnd -v ./dashboard/

migrate: build
	$(BIN) migrate

# The full gate: formatting, vet, generated code up to date, then every test with the race
# detector against a real PostgreSQL.
test: lint sqlc-check dashboard-check
	@scripts/ensure-postgres.sh
	@scripts/ensure-redis.sh
	$(GO) test -race -count=1 -timeout 40m ./...

unit:
	$(GO) test -race -count=1 -timeout 40m ./...

lint:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate:
	$(SQLC) generate

# Fails when the committed sqlc code differs from what `sqlc generate` would write.
sqlc-check:
	$(SQLC) diff

bench:
	@scripts/ensure-postgres.sh
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 60m ./bench/ | tee bench/last-run.txt

clean:
	rm -rf bin

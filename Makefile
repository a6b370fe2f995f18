# GatheRing: `make run` starts the server with its dashboard on an embedded PostgreSQL;
# `make test` runs every check CI runs. Both install what a fresh Debian machine lacks.
GO        ?= go
BIN       := bin/gathering
GOFILES    = $(shell find . -name '*.go' -not -path './dashboard/node_modules/*')
SQLC       = $(shell scripts/install-sqlc.sh | tail -n 1)

.PHONY: run build test unit lint generate sqlc-check bench migrate clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/gathering

# Development defaults for the first administrator; set your own in the environment.
ADMIN_EMAIL    ?= admin@example.com
ADMIN_PASSWORD ?= gathering-admin-password

run: build
	@scripts/ensure-postgres.sh --binaries-only >/dev/null
	ADMIN_EMAIL='$(ADMIN_EMAIL)' ADMIN_PASSWORD='$(ADMIN_PASSWORD)' $(BIN) serve

migrate: build
	$(BIN) migrate

# The full gate: formatting, vet, generated code up to date, then every test with the race
# detector against a real PostgreSQL.
test: lint sqlc-check
	@scripts/ensure-postgres.sh
	@scripts/ensure-redis.sh
	$(GO) test -race -count=1 -timeout 25m ./...

unit:
	$(GO) test -race -count=1 -timeout 25m ./...

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

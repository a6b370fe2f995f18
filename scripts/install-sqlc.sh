#!/usr/bin/env bash
# Install the sqlc version the project's generated code is made with, unless
# it is already there. The last line on stdout is the sqlc binary's path.
set -euo pipefail

want=v1.31.1
log() { echo "install-sqlc: $*" >&2; }

# GOPATH may be a list; go install uses its first entry.
gopath="$(go env GOPATH)"
gobin="${gopath%%:*}/bin"

has_version() {
	[ -x "$1" ] && [ "$("$1" version 2>/dev/null | tr -d '[:space:]')" = "$want" ]
}

for candidate in "$(command -v sqlc 2>/dev/null || true)" "$gobin/sqlc"; do
	if [ -n "$candidate" ] && has_version "$candidate"; then
		log "sqlc $want already installed"
		echo "$candidate"
		exit 0
	fi
done

log "installing sqlc $want into $gobin"
# sqlc embeds the PostgreSQL parser (pg_query_go), which needs cgo.
if ! GOBIN="$gobin" CGO_ENABLED=1 go install "github.com/sqlc-dev/sqlc/cmd/sqlc@$want" >&2; then
	command -v "$(go env CC)" >/dev/null 2>&1 || log "hint: sqlc needs a C compiler (apt-get install -y gcc)"
	exit 1
fi
has_version "$gobin/sqlc" || { log "installed $gobin/sqlc does not report $want"; exit 1; }
echo "$gobin/sqlc"

#!/usr/bin/env bash
# Make sure an npm project of this repository has its packages, at the versions pinned in its
# lock file: by default the PGlite test harness (internal/pglite: PGlite, its pgvector extension
# and pglite-socket); with a directory argument, that project (dashboard/).
#
# Idempotent: runs `npm ci` only when node_modules is missing or was installed from another
# lock file (the lock's sha256 is kept in node_modules/.gathering-lock-hash). Concurrent runs
# (test packages started in parallel) wait for each other on a lock file.
#
# Needs node (v20 or newer) and npm; on Debian: apt-get install nodejs npm.
# Progress goes to stderr; the last line on stdout is the harness directory.
set -euo pipefail

log() { echo "ensure-npm: $*" >&2; }
die() { log "error: $*"; exit 1; }

dir="$(cd "${1:-$(dirname "$0")/../internal/pglite}" && pwd)"

# On a fresh Debian machine, install node and npm from the distribution when we may.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		log "installing nodejs and npm with apt-get"
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >&2 || die "apt-get install nodejs npm failed"
	fi
fi
command -v node >/dev/null 2>&1 || die "node is not installed (the PGlite tests need node 20 or newer and npm: apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install npm)"
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || die "node $(node --version) is too old: PGlite needs node 20 or newer"

want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
stamp="$dir/node_modules/.gathering-lock-hash"

# The lock file itself is the lock (npm ci empties node_modules, so nothing in there can be).
exec 9<"$dir/package-lock.json"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "$dir"
	exit 0
fi
log "installing the npm packages of $dir (npm ci)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $dir"
echo "$want" >"$stamp"
echo "$dir"

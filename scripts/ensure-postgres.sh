#!/usr/bin/env bash
# Make sure a PostgreSQL server is available for development and tests.
#
# Idempotent: installs the Debian postgresql package only when no server
# binaries exist, starts (or creates) the Debian "main" cluster only when
# nothing answers on 127.0.0.1:5432, and relaxes pg_hba.conf only when a
# passwordless connection as "postgres" actually fails. With
# TEST_DATABASE_URL set, that server is used as is and only waited for.
#
# With --binaries-only it stops once the server binaries are installed.
#
# Progress goes to stderr; the last line on stdout says which server is used.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
# Never prompt for a password: there may be no TTY, and a prompt would hang.
export PGCONNECT_TIMEOUT=5

log() { echo "ensure-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		die "need root for: $*"
	fi
}

newest_bin_dir() {
	local b found=""
	for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V || true); do
		if [ -x "$b/initdb" ]; then
			found="$b"
		fi
	done
	echo "$found"
}

wait_ready() { # pg_isready args...
	local i
	for i in $(seq 1 60); do
		if "$bin/pg_isready" -q "$@"; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# --- binaries -------------------------------------------------------------
bin="$(newest_bin_dir)"
if [ -z "$bin" ]; then
	log "no PostgreSQL server binaries found, installing the postgresql package"
	as_root apt-get update -qq
	as_root apt-get install -y -qq postgresql >&2
	bin="$(newest_bin_dir)"
	[ -n "$bin" ] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
fi
ver="$(basename "$(dirname "$bin")")"

# `make run` needs only the binaries: gathering starts its own private server from them.
if [ "${1:-}" = "--binaries-only" ]; then
	echo "$bin"
	exit 0
fi

# --- explicit server ------------------------------------------------------
if [ -n "${TEST_DATABASE_URL:-}" ]; then
	# Hide a password, if any, from the output.
	shown="$(printf '%s' "$TEST_DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')"
	wait_ready -d "$TEST_DATABASE_URL" || die "server from TEST_DATABASE_URL ($shown) is not ready after 30s"
	echo "ensure-postgres: using TEST_DATABASE_URL server $shown"
	exit 0
fi

# --- local Debian cluster -------------------------------------------------
host=127.0.0.1
port=5432
if "$bin/pg_isready" -q -h "$host" -p "$port"; then
	log "a server already answers on $host:$port"
else
	command -v pg_lsclusters >/dev/null 2>&1 || die "nothing answers on $host:$port and pg_lsclusters (postgresql-common) is missing"
	if pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
		log "starting PostgreSQL $ver cluster main"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
	else
		log "creating and starting PostgreSQL $ver cluster main"
		as_root pg_createcluster "$ver" main --start >&2
	fi
	# The cluster may have been configured with another port.
	port="$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" { print $3 }')"
fi
wait_ready -h "$host" -p "$port" || die "PostgreSQL on $host:$port is not ready after 30s"

can_connect() {
	"$bin/psql" -w -X -q -h "$host" -p "$port" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1
}

if ! can_connect; then
	# Only touch a cluster we manage: the Debian cluster on this port.
	cluster="$(pg_lsclusters -h 2>/dev/null | awk -v p="$port" '$3 == p && $4 ~ /online/ { print $1 "/" $2; exit }')"
	[ -n "$cluster" ] || die "cannot connect as postgres without a password to $host:$port, and it is not a Debian cluster this script may reconfigure; set TEST_DATABASE_URL instead"
	hba="/etc/postgresql/$cluster/pg_hba.conf"
	[ -f "$hba" ] || die "cannot connect as postgres without a password, and $hba does not exist"
	log "allowing passwordless connections from 127.0.0.1 and ::1 in $hba"
	[ -e "$hba.orig" ] || as_root cp -p "$hba" "$hba.orig"
	tmp="$(mktemp)"
	# pg_hba.conf is first-match-wins, so existing loopback rules must change
	# rather than new ones be appended after them.
	as_root cat "$hba" | sed -E \
		-e 's#^([[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+)[^[:space:]]+.*$#\1trust#' \
		-e 's#^([[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+::1/128[[:space:]]+)[^[:space:]]+.*$#\1trust#' >"$tmp"
	for net in 127.0.0.1/32 ::1/128; do
		if ! grep -Eq "^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+${net//./\\.}[[:space:]]+trust" "$tmp"; then
			{ echo "host all all $net trust # added by ensure-postgres.sh"; cat "$tmp"; } >"$tmp.new" && mv "$tmp.new" "$tmp"
		fi
	done
	as_root tee "$hba" <"$tmp" >/dev/null
	rm -f "$tmp"
	as_root pg_ctlcluster --skip-systemctl-redirect "${cluster%/*}" "${cluster#*/}" reload
	for _ in $(seq 1 20); do
		can_connect && break
		sleep 0.5
	done
	can_connect || die "still cannot connect as postgres to $host:$port after editing $hba"
fi

echo "ensure-postgres: using local PostgreSQL $("$bin/psql" -w -X -h "$host" -p "$port" -U postgres -d postgres -Atc 'show server_version' 2>/dev/null | cut -d' ' -f1) at postgres://postgres@$host:$port/postgres (no password)"

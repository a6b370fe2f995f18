#!/usr/bin/env bash
# Make sure a Redis server is available for development and tests (the ratelimit package's Redis
# store is tested against a real one).
#
# Idempotent and non-interactive (runs as root, or with passwordless sudo, without a TTY):
#   - with TEST_REDIS_URL set, that server is used as is and only waited for;
#   - else, if something answers PING on 127.0.0.1:6379, it is used (a quick no-op);
#   - else redis-server (and redis-cli) are installed with apt-get when missing, and a server is
#     started in the background on 127.0.0.1:6379 without persistence.
# Waits up to 30 s for PONG.
#
# Progress goes to stderr; the last line on stdout says which Redis is used.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

HOST=127.0.0.1
PORT=6379
WAIT_SECONDS=30

log() { echo "ensure-redis: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		die "need root for: $*"
	fi
}

# ping_url URL: true when the server at URL answers PONG. redis-cli when present, else bash's
# /dev/tcp with an inline PING (no AUTH, TLS or database selection: use redis-cli for those).
ping_url() {
	local url="$1"
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(timeout 3 redis-cli -u "$url" ping 2>/dev/null || true)" = "PONG" ]
		return
	fi
	local hostport host port
	hostport="${url#*://}"
	hostport="${hostport#*@}"
	hostport="${hostport%%/*}"
	host="${hostport%:*}"
	port="${hostport##*:}"
	[ "$port" = "$hostport" ] && port=6379
	host="${host#[}"
	host="${host%]}"
	ping_tcp "$host" "$port"
}

ping_tcp() { # host port
	local reply
	reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && head -c 7 <&3' _ "$1" "$2" 2>/dev/null || true)"
	[ "${reply%$'\r'}" = "+PONG" ]
}

ping_local() {
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(timeout 3 redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null || true)" = "PONG" ]
	else
		ping_tcp "$HOST" "$PORT"
	fi
}

wait_for() { # description command...
	local what="$1" i
	shift
	for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.5
	done
	die "$what did not answer PING within ${WAIT_SECONDS}s"
}

# --- an external server -----------------------------------------------------
if [ -n "${TEST_REDIS_URL:-}" ]; then
	log "waiting for TEST_REDIS_URL"
	wait_for "TEST_REDIS_URL" ping_url "$TEST_REDIS_URL"
	# Never print a password that the URL may carry.
	echo "redis: TEST_REDIS_URL $(printf '%s' "$TEST_REDIS_URL" | sed -E 's#://[^@/]*@#://***@#')"
	exit 0
fi

# --- the local one ----------------------------------------------------------
if ping_local; then
	echo "redis: redis://$HOST:$PORT/0 (already running)"
	exit 0
fi

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	log "installing redis-server with apt-get"
	as_root apt-get update -qq >&2
	as_root apt-get install -y -qq --no-install-recommends redis-server redis-tools >&2
	command -v redis-server >/dev/null 2>&1 || die "redis-server installed but not on PATH"
fi

dir=/var/lib/redis
if ! { mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; }; then
	dir="$(mktemp -d /tmp/redis.XXXXXX)"
fi
log "starting redis-server on $HOST:$PORT (no persistence, dir $dir)"
start() { # bind addresses...
	as_root redis-server --daemonize yes --bind "$@" --port "$PORT" --save "" --appendonly no \
		--dir "$dir" --logfile "$dir/redis-test.log" >&2
}
# Bind IPv6 loopback too when the machine has it ('-' makes it optional); a Redis too old to
# know that syntax gets IPv4 loopback only.
start 127.0.0.1 -::1 || start 127.0.0.1
wait_for "redis-server on $HOST:$PORT" ping_local
echo "redis: redis://$HOST:$PORT/0 (started)"

#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the dashboard's end-to-end tests (playwright-core
# drives /usr/bin/chromium; no browser is ever downloaded). Prints the browser's path last.
set -euo pipefail
log() { echo "ensure-chromium: $*" >&2; }
bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$bin" ]; then
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		log "installing chromium with apt-get"
		# Serialised: test packages may ask at the same time, and dpkg takes one at a time.
		exec 9>/tmp/gathering-ensure-chromium.lock
		flock 9
		if [ ! -x "$bin" ]; then
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 || { log "apt-get install chromium failed"; exit 1; }
		fi
	else
		log "chromium is not installed at $bin (Debian: apt-get install chromium, or set CHROMIUM_PATH)"
		exit 1
	fi
fi
echo "$bin"

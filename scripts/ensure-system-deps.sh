#!/bin/sh
# Installs the Debian packages the test suite needs when they are missing:
# redis-server (job queue tests), postgresql (ledger tests: initdb/pg_ctl, which Debian keeps in
# /usr/lib/postgresql/<major>/bin), chromium (the console's browser tests drive it through Playwright;
# browsers are never downloaded). Each test session starts its own servers on free ports.
set -eu
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing="$missing postgresql"
fi
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "ensure-system-deps: need root or sudo to install:$missing" >&2; exit 1
fi
echo "ensure-system-deps: installing$missing" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null

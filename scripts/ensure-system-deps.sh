#!/bin/sh
# Installs the system packages the test suite drives for real: redis-server (backplane tests), Debian's
# chromium (browser tests) and openssl (TLS test certificates). Only installs what is missing; needs root (or sudo) to install.
set -e
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$missing chromium"
# openssl makes the certificates of the Redis TLS and HTTP/2 tests.
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && exit 0
echo "test setup: installing missing system packages:$missing"
if [ "$(id -u)" = "0" ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "test setup: cannot install$missing: not root and no passwordless sudo." >&2
  echo "test setup: run as root, or install them first: apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

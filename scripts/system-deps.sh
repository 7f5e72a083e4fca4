#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when they are missing.
# CI runs as root on a fresh Debian machine; a developer without root gets a clear list instead.
set -euo pipefail

missing=()
command -v gpg >/dev/null || missing+=(gnupg)
command -v sqop >/dev/null || missing+=(sqop)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
# The IMAP poll's tests run a throw-away Dovecot on loopback; /usr/sbin is not on every user's PATH.
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null || missing+=(dovecot-imapd)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

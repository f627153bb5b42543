#!/usr/bin/env bash
# What the test suite needs beyond Node.js and npm: a PostgreSQL server for test/postgres.test.ts,
# which starts a throwaway cluster of its own (initdb in a temporary directory, a free port), and
# Chromium for test/explorer.test.ts (driven by playwright-core, which downloads no browser).
# Installs Debian's `postgresql` and `chromium` packages when missing (the server binaries on the
# PATH or where Debian puts them, /usr/lib/postgresql/<version>/bin; /usr/bin/chromium). Without
# apt-get, or without root or passwordless sudo, it says so and exits 0: those tests are then
# skipped, visibly.
set -euo pipefail

have_postgres() {
  local dir
  local IFS=:
  for dir in $PATH; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && return 0
  done
  IFS=$' \t\n'
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && return 0
  done
  return 1
}

packages=()
if have_postgres; then
  echo "setup-ci: PostgreSQL server binaries found"
else
  packages+=(postgresql)
fi
if [ -x /usr/bin/chromium ] || [ -n "${RECSYS_CHROMIUM:-}" ]; then
  echo "setup-ci: Chromium found"
else
  packages+=(chromium)
fi
if [ "${#packages[@]}" -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-ci: no ${packages[*]} and no apt-get: install them yourself, or their tests are skipped" >&2
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "setup-ci: no ${packages[*]}, and installing needs root (or passwordless sudo): their tests are skipped" >&2
    exit 0
  fi
fi
echo "setup-ci: installing Debian's ${packages[*]}"
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
if ! have_postgres; then
  echo "setup-ci: postgresql is installed but initdb, pg_ctl and postgres were not found" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ] && [ -z "${RECSYS_CHROMIUM:-}" ]; then
  echo "setup-ci: chromium is installed but /usr/bin/chromium was not found" >&2
  exit 1
fi
echo "setup-ci: ${packages[*]} installed"

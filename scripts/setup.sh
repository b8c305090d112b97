#!/usr/bin/env bash
# Installs and starts what building and testing need, skipping whatever is already there:
# Debian packages (MariaDB client library, pkg-config, Node.js, Chromium), a running MariaDB,
# and the dashboard's npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in libmariadb-dev pkg-config chromium curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# MariaDB on 127.0.0.1:3306 (root, empty password) unless TEST_MYSQL_URL points elsewhere.
if [ -z "${TEST_MYSQL_URL:-}" ]; then
  if ! mariadb-admin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
    echo "setup: starting MariaDB"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  fi
  for _ in $(seq 1 60); do
    mariadb-admin -uroot -h127.0.0.1 ping >/dev/null 2>&1 && break
    sleep 1
  done
  mariadb-admin -uroot -h127.0.0.1 ping >/dev/null 2>&1 || { echo "setup: MariaDB did not come up on 127.0.0.1:3306" >&2; exit 1; }
fi

# The dashboard's packages, exactly as locked.
if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then
  echo "setup: npm ci in frontend/"
  npm --prefix frontend ci --no-audit --no-fund
fi

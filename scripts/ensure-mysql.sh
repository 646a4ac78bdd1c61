#!/usr/bin/env bash
# Makes sure a MySQL-compatible server answers, then prints the DSN to use.
#   1. SHELF_MYSQL_DSN when it is set (the server is the user's business);
#   2. a server already answering on 127.0.0.1:3306;
#   3. mariadbd/mysqld from the system, started in the background;
#   4. as root on Debian/Ubuntu: apt-get install mariadb-server, then 3;
#   5. otherwise a one-line message that says what to install.
# Usage: scripts/ensure-mysql.sh [database]   (creates the database if missing)
set -euo pipefail
db="${1:-}"
log() { echo "ensure-mysql: $*" >&2; }

if [ -n "${SHELF_MYSQL_DSN:-}" ]; then
  echo "$SHELF_MYSQL_DSN"
  exit 0
fi

answers() {
  # bash's /dev/tcp: no client needed to see whether the port is open.
  (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null
}

find_server() {
  for b in mariadbd mysqld; do
    for d in /usr/sbin /usr/local/sbin /usr/bin /usr/local/bin; do
      [ -x "$d/$b" ] && { echo "$d/$b"; return 0; }
    done
  done
  return 1
}

# The InnoDB buffer pool for a server this script starts: a stock server's
# 128 MiB holds about 25,000 products (tables, indexes and rendered pages:
# about 4.8 KB a product),
# and pages it does not hold are read from disk on every miss. Default: half
# the machine's memory, at most 4 GiB (about 850,000 products);
# SHELF_MYSQL_BUFFER_POOL (bytes, or with a K/M/G suffix) overrides it.
buffer_pool() {
  if [ -n "${SHELF_MYSQL_BUFFER_POOL:-}" ]; then
    echo "$SHELF_MYSQL_BUFFER_POOL"
    return
  fi
  local kb
  kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
  local mb=$(( kb / 2048 ))
  [ "$mb" -gt 4096 ] && mb=4096
  [ "$mb" -lt 128 ] && mb=128
  echo "${mb}M"
}

start_server() {
  local bin=$1
  install -d -o mysql -g mysql /run/mysqld 2>/dev/null || mkdir -p /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    log "initialising the data directory"
    if command -v mariadb-install-db >/dev/null; then
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    else
      "$bin" --initialize-insecure --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
  fi
  local pool
  pool=$(buffer_pool)
  log "starting $bin (innodb_buffer_pool_size $pool)"
  if command -v start-stop-daemon >/dev/null; then
    start-stop-daemon --start --oknodo --background --exec "$bin" -- --user=mysql --innodb-buffer-pool-size="$pool"
  else
    nohup "$(dirname "$0")/detached.sh" "$bin" --user=mysql --innodb-buffer-pool-size="$pool" >/tmp/shelf-mysqld.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    answers && return 0
    sleep 0.5
  done
  log "the server did not come up within 30 s"
  return 1
}

if ! answers; then
  if bin=$(find_server); then
    start_server "$bin"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "no MySQL server found: installing mariadb-server with apt-get (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq mariadb-server >/dev/null
    start_server "$(find_server)"
  else
    log "no MySQL server on 127.0.0.1:3306: install mariadb-server (apt-get install mariadb-server) or set SHELF_MYSQL_DSN"
    exit 1
  fi
fi

if [ -n "$db" ]; then
  client=$(command -v mariadb || command -v mysql || true)
  if [ -n "$client" ]; then
    "$client" -h127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci" >&2
  fi
fi
echo "root@tcp(127.0.0.1:3306)/${db}"

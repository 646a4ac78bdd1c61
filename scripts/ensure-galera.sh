#!/usr/bin/env bash
# Makes sure a private 3-node MariaDB Galera cluster runs on loopback, then
# prints one DSN per node (node 1 first). It is for tests and benchmarks: the
# nodes listen on 127.0.0.1 only, root has no password, and the data lives
# under SHELF_GALERA_DIR (default: $TMPDIR/shelf-galera).
#
#   scripts/ensure-galera.sh          start what is not running (idempotent)
#   scripts/ensure-galera.sh stop     stop the three nodes (data kept)
#   scripts/ensure-galera.sh reset    stop them and delete their data
#
# Node N (1-3) uses four ports from SHELF_GALERA_PORT (default 24306):
# SQL = base+10(N-1), Galera = +1, IST = +2, SST = +3. When no node runs, node
# 1 starts a new cluster (--wsrep-new-cluster) and nodes 2 and 3 join it by
# rsync SST; when some node runs, the missing ones rejoin it. As root on
# Debian/Ubuntu, missing packages (mariadb-server, galera-4, rsync, iproute2
# for the SST script's port check) are installed with apt-get.
set -euo pipefail
mode="${1:-start}"
dir="${SHELF_GALERA_DIR:-${TMPDIR:-/tmp}/shelf-galera}"
base="${SHELF_GALERA_PORT:-24306}"
log() { echo "ensure-galera: $*" >&2; }

sql_port() { echo $((base + 10 * ($1 - 1))); }
gal_port() { echo $((base + 10 * ($1 - 1) + 1)); }
ist_port() { echo $((base + 10 * ($1 - 1) + 2)); }
sst_port() { echo $((base + 10 * ($1 - 1) + 3)); }
pid_of() { cat "$dir/node$1/mariadbd.pid" 2>/dev/null || true; }
alive() { # pid: the process exists and is not a zombie
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
running() { alive "$(pid_of "$1")"; }

stop_node() {
  local pid
  pid=$(pid_of "$1")
  if alive "$pid"; then
    kill -CONT "$pid" 2>/dev/null || true # a frozen node cannot shut down
    kill -TERM "$pid"
    for _ in $(seq 1 120); do
      alive "$pid" || return 0
      sleep 0.5
    done
    log "node $1 (pid $pid) did not stop within 60 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

case "$mode" in
stop | reset)
  # The last node to leave is the one that may bootstrap next time: stop 1 last.
  for n in 3 2 1; do stop_node "$n"; done
  if [ "$mode" = reset ]; then rm -rf "$dir"; fi
  exit 0
  ;;
start) ;;
*)
  echo "usage: $0 [start|stop|reset]" >&2
  exit 2
  ;;
esac

find_server() {
  for d in /usr/sbin /usr/local/sbin /usr/bin /usr/local/bin; do
    [ -x "$d/mariadbd" ] && { echo "$d/mariadbd"; return 0; }
  done
  return 1
}
find_provider() {
  for f in /usr/lib/galera/libgalera_smm.so /usr/lib/libgalera_smm.so /usr/lib64/galera-4/libgalera_smm.so \
    /usr/lib/x86_64-linux-gnu/galera/libgalera_smm.so /usr/lib/aarch64-linux-gnu/galera/libgalera_smm.so; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

# Packages: each missing piece names the Debian package that brings it.
missing=()
find_server >/dev/null || missing+=(mariadb-server)
find_provider >/dev/null || missing+=(galera-4)
command -v rsync >/dev/null || missing+=(rsync)
command -v ss >/dev/null || command -v lsof >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "missing ${missing[*]}: install them (apt-get install ${missing[*]}) and run this again"
    exit 1
  fi
  log "installing ${missing[*]} with apt-get (once)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
server=$(find_server)
provider=$(find_provider)
client=$(command -v mariadb || command -v mysql)
installdb=$(command -v mariadb-install-db || command -v mysql_install_db)
# As root the nodes run as mysql (the package creates that user): the rsync
# daemon a joiner starts for SST runs as nobody when started by root, and
# then cannot write the data directory.
user=$(id -un)
if [ "$user" = root ] && id mysql >/dev/null 2>&1; then user=mysql; fi

ask() { # node, query: one value, or nothing when the node does not answer
  "$client" --no-defaults -h127.0.0.1 -P"$(sql_port "$1")" -uroot --connect-timeout=2 -N -B -e "$2" 2>/dev/null || true
}
synced() {
  [ "$(ask "$1" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT'")" = Synced ]
}

write_config() {
  local n=$1 d="$dir/node$1"
  local members="127.0.0.1:$(gal_port 1),127.0.0.1:$(gal_port 2),127.0.0.1:$(gal_port 3)"
  cat >"$d/my.cnf" <<EOF
[mariadbd]
datadir=$d/data
tmpdir=$d/tmp
socket=$d/mariadbd.sock
pid-file=$d/mariadbd.pid
log-error=$d/error.log
port=$(sql_port "$n")
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_520_ci
max_connections=400
innodb_buffer_pool_size=192M
innodb_log_file_size=64M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
innodb_autoinc_lock_mode=2
default_storage_engine=InnoDB
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=shelf-galera-$base
wsrep_cluster_address=gcomm://$members
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(gal_port "$n")
wsrep_provider_options="base_port=$(gal_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=128M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sst_port "$n")
EOF
}

init_node() {
  local n=$1 d="$dir/node$1"
  # Its own tmpdir: a server (the bootstrap one of mariadb-install-db too)
  # deletes every #sql* file in its tmpdir when it starts, so sharing /tmp
  # would delete other servers' temporary tables.
  mkdir -p "$d/tmp"
  write_config "$n"
  [ "$user" = "$(id -un)" ] || chown "$user" "$d" "$d/tmp" "$d/my.cnf"
  if [ ! -d "$d/data/mysql" ]; then
    log "initialising node $n's data directory"
    rm -rf "$d/data"
    [ "$user" = "$(id -un)" ] || chown -R "$user" "$d"
    "$installdb" --no-defaults --datadir="$d/data" --tmpdir="$d/tmp" --user="$user" --auth-root-authentication-method=normal \
      --skip-test-db >"$d/install.log" 2>&1 || { cat "$d/install.log" >&2; exit 1; }
  fi
}

start_node() { # node, extra mariadbd arguments
  local n=$1 d="$dir/node$1"
  shift
  log "starting node $n on 127.0.0.1:$(sql_port "$n") $*"
  # setsid: the node outlives this script and the shell that ran it, and
  # holds none of its other file descriptors (detached.sh).
  setsid "$(dirname "$0")/detached.sh" "$server" --defaults-file="$d/my.cnf" --user="$user" "$@" </dev/null >>"$d/stdout.log" 2>&1 &
  mine[$n]=$!
}

mkdir -p "$dir"
for n in 1 2 3; do init_node "$n"; done

# Until all three are Synced: start each node that does not run (a node
# killed a moment ago may still be exiting: wait for it to go first). With
# no node running, node 1 bootstraps; the others join once a node is Synced.
declare -A mine=()
for _ in $(seq 1 240); do
  done_count=0 any_running=0 any_synced=0
  for n in 1 2 3; do
    if synced "$n"; then
      done_count=$((done_count + 1)) any_synced=1 any_running=1
    elif running "$n" || alive "${mine[$n]:-}"; then
      any_running=1
    fi
  done
  [ $done_count = 3 ] && break
  for n in 1 2 3; do
    synced "$n" || running "$n" && continue
    if [ -n "${mine[$n]:-}" ]; then
      alive "${mine[$n]}" && continue
      log "node $n stopped while starting; the end of $dir/node$n/error.log:"
      tail -20 "$dir/node$n/error.log" >&2
      exit 1
    fi
    if [ $any_running = 0 ] && [ "$n" = 1 ]; then
      # No node runs, so node 1 starts a new cluster with the data it has.
      sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$dir/node1/data/grastate.dat" 2>/dev/null || true
      start_node 1 --wsrep-new-cluster
      any_running=1
    elif [ $any_synced = 1 ]; then
      start_node "$n"
    fi
  done
  sleep 0.5
done
if [ "${done_count:-0}" != 3 ]; then
  log "the cluster did not reach 3 Synced nodes within 120 s; see $dir/node*/error.log"
  exit 1
fi
for n in 1 2 3; do echo "root@tcp(127.0.0.1:$(sql_port "$n"))/"; done

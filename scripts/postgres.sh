#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for the tests that run against PostgreSQL.
#
#   url=$(bash scripts/postgres.sh start)   # prints postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
#   bash scripts/postgres.sh stop           # stops it and deletes its files
#
# The cluster lives in a new temporary folder, listens on 127.0.0.1 only, on a free port, and
# trusts local connections (nothing but this machine can reach it). The server's own safety
# against power loss (fsync) is off: the tests kill clients, never the server. When no PostgreSQL
# is installed and CI=true (or BCM_PG_INSTALL=1), it is installed from the distribution's
# packages first. As root, the server runs as the `postgres` user, which refuses to run as root.
# The state file ($BCM_PG_STATE, default /tmp/bcm-postgres.state) tells `stop` what to stop.
set -euo pipefail

state=${BCM_PG_STATE:-${TMPDIR:-/tmp}/bcm-postgres.state}

say() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

install_postgresql() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no PostgreSQL here and no apt-get to install it; install PostgreSQL (initdb, pg_ctl)"
    exit 2
  fi
  say "installing PostgreSQL from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
}

# Run a PostgreSQL program as the owner of the cluster.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 - <<'EOF'
import socket

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
EOF
}

start() {
  if [ -s "$state" ]; then
    say "a server from an earlier start is still recorded in $state; stopping it first"
    stop
  fi
  local bindir
  if ! bindir=$(find_bindir); then
    if [ "${CI:-}" = true ] || [ "${BCM_PG_INSTALL:-}" = 1 ]; then
      install_postgresql
      bindir=$(find_bindir) || { say "PostgreSQL installed, but initdb was not found"; exit 2; }
    else
      say "PostgreSQL is not installed (no initdb); install the distribution's postgresql package,"
      say "or run with CI=true or BCM_PG_INSTALL=1 to have it installed"
      exit 2
    fi
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  local dir port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bcm-postgres.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
    --no-locale --no-sync >"$dir/initdb.log" 2>&1 || {
    say "initdb failed:"; cat "$dir/initdb.log" >&2; exit 2; }
  printf '%s\n%s\n' "$bindir" "$dir" >"$state"
  local tries=0
  while :; do
    port=$(free_port)
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
      start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then
      say "the server did not start:"; tail -n 20 "$dir/server.log" >&2; exit 2
    fi
  done
  echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
}

stop() {
  if [ ! -s "$state" ]; then
    say "no server recorded in $state"
    return 0
  fi
  local bindir dir
  { read -r bindir; read -r dir; } <"$state"
  if [ -d "$dir/data" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  case "$dir" in
    "${TMPDIR:-/tmp}"/bcm-postgres.*) rm -rf "$dir" ;;
  esac
  rm -f "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

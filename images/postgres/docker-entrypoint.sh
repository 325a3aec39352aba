#!/bin/bash
# Entrypoint of harness/postgres, shaped like the official image's:
#   - first start: initdb with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD (required
#     unless POSTGRES_HOST_AUTH_METHOD=trust), password (scram-sha-256) auth for TCP from anywhere,
#     then CREATE DATABASE POSTGRES_DB (default: the user name);
#   - runs `postgres -c listen_addresses=*` plus any `-c ...` arguments as user postgres;
#   - any other command (psql, sleep, sh ...) is run as given, so the image is also a client pod.
# Not supported (unlike the official image): /docker-entrypoint-initdb.d, POSTGRES_INITDB_ARGS.
#
# The server runs as a child of this script, which stays PID 1. That lets `harness-pg stop` take
# the server down while the container, its IP and its published port stay up (clients then get
# "connection refused", as from a crashed database host that is still on the network) and
# `harness-pg start` bring it back. docker stop (SIGINT/SIGTERM) still shuts down cleanly.
set -euo pipefail

CONTROL_DIR=/run/harness-pg
HELD=$CONTROL_DIR/held

# Drop root for the server and its tools, like the official image does with gosu.
if [ "$(id -u)" = 0 ]; then
  run_as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
else
  run_as=()
fi
as_postgres() { "${run_as[@]}" "$@"; }

init_cluster() {
  local user=${POSTGRES_USER:-postgres} db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
  local method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
    echo "error: POSTGRES_PASSWORD is not set; set it (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  local pwfile
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  chown postgres "$pwfile" 2>/dev/null || true
  as_postgres initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host="$method" >&2
  rm -f "$pwfile"
  printf 'host all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # single-user mode: no socket and no TCP listener while the database is created
    printf 'CREATE DATABASE "%s";\n' "${db//\"/\"\"}" | as_postgres postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "harness/postgres: initialized $PGDATA (user $user, database $db)" >&2
}

server_pid=""
terminating=""
on_signal() {
  terminating=1
  rm -f "$HELD"
  [ -n "$server_pid" ] && kill -INT "$server_pid" 2>/dev/null || true
}

run_server() {
  mkdir -p "$PGDATA" "$CONTROL_DIR" /run/postgresql
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PGDATA" /run/postgresql "$CONTROL_DIR"
    chmod 0700 "$PGDATA"
  fi
  rm -f "$HELD"
  [ -s "$PGDATA/PG_VERSION" ] || init_cluster
  trap on_signal INT TERM
  while :; do
    # a plain command (not a function) in the background: $! is the server itself (setpriv execs it)
    "${run_as[@]}" postgres -D "$PGDATA" -c listen_addresses='*' "$@" &
    server_pid=$!
    echo "$server_pid" >"$CONTROL_DIR/server.pid"
    local status=0
    # `wait` returns early when a trapped signal arrives; keep waiting until the server is gone
    while kill -0 "$server_pid" 2>/dev/null; do
      wait "$server_pid" && status=0 || status=$?
    done
    server_pid=""
    if [ -z "$terminating" ] && [ -e "$HELD" ]; then
      echo "harness/postgres: server stopped by harness-pg; container stays up until harness-pg start" >&2
      while [ -e "$HELD" ] && [ -z "$terminating" ]; do sleep 0.2; done
      [ -n "$terminating" ] && exit 0
      echo "harness/postgres: restarting server" >&2
      continue
    fi
    exit "$status"
  done
}

if [ "${1:-postgres}" = postgres ]; then
  [ $# -gt 0 ] && shift
  run_server "$@"
fi
exec "$@"

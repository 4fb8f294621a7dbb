#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on loopback, for tests and benchmarks (facts: ../shared/design/SCALE.md).
#
#   scripts/postgres.sh install              # Debian's postgresql package, if missing (idempotent)
#   scripts/postgres.sh run [--durable] -- CMD ARGS…
#                                            # start a server, run CMD with COURIER_TEST_DATABASE_URL set
#                                            # (postgres://postgres@127.0.0.1:PORT/postgres), stop the
#                                            # server afterwards — also when CMD fails or is interrupted —
#                                            # and exit with CMD's status
#
# The server runs as the `postgres` system user (PostgreSQL refuses root), from a temporary data folder,
# on a free loopback port, with trust authentication. By default it is tuned for tests (fsync,
# synchronous_commit and full_page_writes off: nothing here needs to survive a power cut); `--durable`
# keeps PostgreSQL's durable defaults, for benchmarks. Each test creates its own database on it.
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
say() { printf '==> %s\n' "$*"; }
die() { printf 'postgres.sh: error: %s\n' "$*" >&2; exit 2; }

install_pg() {
  if [[ -x "$PG_BIN/postgres" ]]; then
    return
  fi
  say "installing Debian's postgresql package (PostgreSQL 15; about a minute)"
  local sudo=""
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: apt-get install -y postgresql yourself"
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  [[ -x "$PG_BIN/postgres" ]] || die "postgresql installed but $PG_BIN/postgres is missing"
}

# Runs a PostgreSQL binary as the postgres user (as root) or as ourselves (as anyone else).
as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_with_pg() {
  local durable=""
  if [[ "${1:-}" == "--durable" ]]; then durable=1; shift; fi
  [[ "${1:-}" == "--" ]] && shift
  [[ $# -gt 0 ]] || die "run needs a command: scripts/postgres.sh run -- CMD…"
  install_pg

  local dir port pid
  dir="$(mktemp -d /tmp/courier-pg.XXXXXX)"
  # Every folder on the way must be reachable by the postgres user.
  chmod 755 "$dir"
  if [[ "$(id -u)" -eq 0 ]]; then chown postgres:postgres "$dir"; fi
  port="$(free_port)"
  pid=""
  stop() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -INT "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
  }
  trap stop EXIT
  trap 'exit 130' INT TERM

  as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  local settings=()
  if [[ -z "$durable" ]]; then
    settings=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
  fi
  local server=("$PG_BIN/postgres" -D "$dir/data" -k "$dir" -h 127.0.0.1 -p "$port" -c max_connections=300
    "${settings[@]}")
  # Started as a simple command (not through a function) so that $! is the postmaster itself:
  # setpriv execs in place.
  if [[ "$(id -u)" -eq 0 ]]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "${server[@]}" >"$dir/server.log" 2>&1 &
  else
    "${server[@]}" >"$dir/server.log" 2>&1 &
  fi
  pid=$!
  local tries=0
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "PostgreSQL exited while starting"; }
    ((++tries < 200)) || die "PostgreSQL did not become ready within 10 s"
    sleep 0.05
  done
  export COURIER_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  local mode="test settings: fsync off"
  [[ -n "$durable" ]] && mode="durable settings"
  say "PostgreSQL 15 on 127.0.0.1:$port (pid $pid, $mode), data in $dir"
  local status=0
  "$@" || status=$?
  exit "$status"
}

case "${1:-}" in
  install) install_pg ;;
  run) shift; run_with_pg "$@" ;;
  *) die "usage: scripts/postgres.sh install | run [--durable] -- CMD…" ;;
esac

#!/usr/bin/env bash
# `make cluster`: a Courier cluster on this machine, from Debian packages and the release build:
#
#   PostgreSQL 15   one throwaway server (durable settings), database `courier`
#   nats-server     core NATS, carrying live frames between the nodes
#   courier × 2     two nodes on their own ports, both on that database and that NATS
#   HAProxy         on http://127.0.0.1:3000 (COURIER_CLUSTER_PORT), WebSocket-capable, routing
#                   new connections to the node with the fewest and health-checking /healthz
#
# It prints what runs where and stops everything (by PID) on Ctrl-C. The data lives in a temporary
# folder and is thrown away on stop: this is a cluster to try and to test against, not a deployment
# (docs/DEPLOY.md describes one). Facts about running the services here: ../shared/design/SCALE.md.
#
#   COURIER_CLUSTER_NODES  how many nodes (default 2)
#   COURIER_CLUSTER_PORT   HAProxy's port (default 3000)
#   COURIER_CLUSTER_ENV    extra KEY=VALUE settings for every node (space-separated), e.g. the lifted
#                          rate limits a benchmark needs: COURIER_SEND_RATE_PER_SEC=1000000000 …
#   COURIER_BIN            the server binary (default target/release/courier; the Playwright cluster
#                          spec runs the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'cluster.sh: error: %s\n' "$*" >&2; exit 2; }

if [[ -z "${COURIER_TEST_DATABASE_URL:-}" ]]; then
  bash scripts/install-services.sh --with-haproxy
  # PostgreSQL first (scripts/postgres.sh starts it, runs the rest of this script, stops it).
  exec bash scripts/postgres.sh run --durable -- bash "$0" "$@"
fi

NODES=${COURIER_CLUSTER_NODES:-2}
LB_PORT=${COURIER_CLUSTER_PORT:-3000}
BIN=${COURIER_BIN:-target/release/courier}
[[ -x "$BIN" ]] || die "$BIN is missing: run make cluster (it builds it)"
[[ -f dist/index.html ]] || die "dist/ is missing: run make cluster (it builds the client)"
NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x "$NATS_BIN" ]] || die "nats-server is not installed (scripts/install-services.sh)"
command -v haproxy >/dev/null || die "haproxy is not installed (scripts/install-services.sh --with-haproxy)"
if (exec 3<>"/dev/tcp/127.0.0.1/$LB_PORT") 2>/dev/null; then
  die "127.0.0.1:$LB_PORT is taken (another Courier? stop it, or set COURIER_CLUSTER_PORT)"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

DIR=$(mktemp -d /tmp/courier-cluster.XXXXXX)
PIDS=()
stop_all() {
  say "stopping the cluster"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# The database every node shares.
/usr/lib/postgresql/15/bin/psql "$COURIER_TEST_DATABASE_URL" -qc "CREATE DATABASE courier" >/dev/null
DB_URL="${COURIER_TEST_DATABASE_URL%/*}/courier"

NATS_PORT=$(free_port)
"$NATS_BIN" -a 127.0.0.1 -p "$NATS_PORT" -l "$DIR/nats.log" &
PIDS+=($!)
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null; then break; fi
  sleep 0.05
done

BACKENDS=""
for n in $(seq "$NODES"); do
  port=$(free_port)
  metrics=$(free_port)
  # Behind the load balancer every client has its address: the per-address limits would count
  # everyone together (README, Configuration), so they are lifted here.
  env DATABASE_URL="$DB_URL" COURIER_NATS_URL="nats://127.0.0.1:$NATS_PORT" \
      COURIER_ADDR="127.0.0.1:$port" COURIER_METRICS_ADDR="127.0.0.1:$metrics" \
      COURIER_CONNECTIONS_PER_ADDR=0 COURIER_LOGIN_FREE_FAILURES_PER_ADDR=1000000 \
      COURIER_REGISTRATIONS_PER_ADDR_PER_HOUR=1000000 RUST_LOG="${RUST_LOG:-info}" \
      ${COURIER_CLUSTER_ENV:-} "$BIN" >"$DIR/node$n.log" 2>&1 &
  PIDS+=($!)
  eval "NODE${n}_PORT=$port NODE${n}_METRICS=$metrics NODE${n}_PID=$!"
  BACKENDS+="    server node$n 127.0.0.1:$port check inter 2s fall 2 rise 1"$'\n'
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$!" 2>/dev/null || { cat "$DIR/node$n.log" >&2; die "node $n exited while starting"; }
    sleep 0.1
  done
done

cat >"$DIR/haproxy.cfg" <<EOF
global
    # No maxconn: HAProxy derives it from the open-file limit (a fixed 50000 needs ~100000 files).
defaults
    mode http
    timeout connect 5s
    timeout client 90s
    timeout server 90s
    # An upgraded WebSocket lives as long as the client keeps it (heartbeats every 20 s).
    timeout tunnel 1h
    option forwardfor
frontend courier
    bind 127.0.0.1:$LB_PORT
    default_backend nodes
backend nodes
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
$BACKENDS
EOF
haproxy -f "$DIR/haproxy.cfg" -db >"$DIR/haproxy.log" 2>&1 &
PIDS+=($!)
LB_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$LB_PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$LB_PID" 2>/dev/null || { cat "$DIR/haproxy.log" >&2; die "haproxy exited while starting"; }
  sleep 0.1
done

echo
say "Courier cluster running — open http://127.0.0.1:$LB_PORT (Ctrl-C stops everything; the data is thrown away)"
printf '    %-12s %-28s %s\n' "what" "where" "pid / log"
printf '    %-12s %-28s %s\n' "haproxy" "http://127.0.0.1:$LB_PORT" "$LB_PID  $DIR/haproxy.log"
for n in $(seq "$NODES"); do
  p="NODE${n}_PORT"; m="NODE${n}_METRICS"; i="NODE${n}_PID"
  printf '    %-12s %-28s %s\n' "courier $n" "http://127.0.0.1:${!p}" "${!i}  $DIR/node$n.log (metrics http://127.0.0.1:${!m}/metrics)"
done
printf '    %-12s %-28s %s\n' "nats-server" "nats://127.0.0.1:$NATS_PORT" "${PIDS[0]}  $DIR/nats.log"
printf '    %-12s %-28s %s\n' "postgresql" "${DB_URL}" "(scripts/postgres.sh)"
echo
# Runs until interrupted, or until a node or the load balancer dies.
wait -n "${PIDS[@]}" || true
say "a process of the cluster exited; stopping the rest"

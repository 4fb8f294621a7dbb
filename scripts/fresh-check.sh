#!/usr/bin/env bash
# Reproduces a newcomer's first two commands on a fresh machine, as closely as this machine allows:
#
#   1. a clean clone of this repository (its committed HEAD) into a temporary folder;
#   2. an empty CARGO_HOME (no cached crates, no Trunk, no wasm-bindgen CLI; only rustup's proxies,
#      so the toolchain in RUSTUP_HOME stays) and no ~/.cargo/bin on PATH;
#   3. an empty npm cache; no node_modules (the clone has none);
#   4. the README's `make test`;
#   5. the README's `make run`, checked from outside: /healthz answers ok and the client (index.html
#      and the wasm it names) is served;
#   6. `make cluster`, checked through HAProxy and on each node, then stopped (nothing left running).
#
# What it cannot undo: Debian packages already installed here (Chromium, fonts) and rustup's toolchain
# with its wasm32 target. Each phase's wall time is printed at the end.
#
#   scripts/fresh-check.sh            # or: make fresh-check (about half an hour on 2 cores)
#   FRESH_KEEP=1 scripts/fresh-check.sh   # keep the temporary folder for inspection
#   FRESH_PORT=3999 ...                   # port for the `make run` phase (default: a free one)
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/courier-fresh.XXXXXX)"
# The rustup proxies (cargo, rustc, …) live in the user's CARGO_HOME/bin; only they are carried over.
RUSTUP_BIN="$(command -v rustup || true)"
[[ -n "$RUSTUP_BIN" ]] || { echo "fresh-check: rustup is not on PATH" >&2; exit 2; }
RUSTUP_BIN="$(readlink -f "$RUSTUP_BIN")"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"

RUN_PID=""
cleanup() {
  if [[ -n "$RUN_PID" ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM -- "-$RUN_PID" 2>/dev/null || kill -TERM "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  if [[ -z "${FRESH_KEEP:-}" ]]; then rm -rf "$WORK"; else echo "fresh-check: kept $WORK"; fi
}
trap cleanup EXIT

declare -a PHASES=()
phase() { # phase NAME COMMAND...: run it, time it, stop on failure
  local name="$1"; shift
  local t0=$SECONDS
  echo
  echo "======== fresh-check: $name ========"
  if "$@"; then
    PHASES+=("$(printf '%-44s %4d s  ok' "$name" $((SECONDS - t0)))")
  else
    local rc=$?
    PHASES+=("$(printf '%-44s %4d s  FAILED (exit %d)' "$name" $((SECONDS - t0)) "$rc")")
    report
    exit "$rc"
  fi
}
report() {
  echo
  echo "======== fresh-check: summary ($(date -u +%FT%TZ), commit $(git -C "$WORK/courier" rev-parse --short HEAD 2>/dev/null || echo unknown)) ========"
  printf '%s\n' "${PHASES[@]}"
}

# 1. A clean clone of what is committed.
phase "clean clone" git clone --quiet --no-hardlinks "$SRC" "$WORK/courier"
if [[ -n "$(git -C "$SRC" status --porcelain)" ]]; then
  echo "fresh-check: note: uncommitted changes in $SRC are NOT part of this check (it clones HEAD)"
fi

# 2. An empty CARGO_HOME holding only rustup's proxies; the user's ~/.cargo/bin leaves PATH.
export CARGO_HOME="$WORK/cargo-home"
mkdir -p "$CARGO_HOME/bin"
for tool in rustup cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
  ln -s "$RUSTUP_BIN" "$CARGO_HOME/bin/$tool"
done
CLEAN_PATH="$CARGO_HOME/bin"
IFS=: read -ra parts <<<"$PATH"
for dir in "${parts[@]}"; do
  case "$dir" in
    "$HOME/.cargo/bin" | */.cargo/bin | "") ;;
    *) CLEAN_PATH="$CLEAN_PATH:$dir" ;;
  esac
done
export PATH="$CLEAN_PATH"
unset CARGO_TARGET_DIR RUSTC_WRAPPER
# 3. An empty npm cache.
export npm_config_cache="$WORK/npm-cache"
echo "fresh-check: clone $WORK/courier, CARGO_HOME=$CARGO_HOME, npm cache $npm_config_cache"
echo "fresh-check: trunk on PATH: $(command -v trunk || echo none); wasm-bindgen: $(command -v wasm-bindgen || echo none)"

cd "$WORK/courier"
# 4. The README's test command.
phase "make test (installs, builds, every test)" make test

# 5. The README's run command, checked from outside on a free port.
PORT="${FRESH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
check_run() {
  set -m
  COURIER_ADDR="127.0.0.1:$PORT" make run >"$WORK/make-run.log" 2>&1 &
  RUN_PID=$!
  set +m
  echo "make run started (log: $WORK/make-run.log); waiting for http://127.0.0.1:$PORT/healthz"
  local deadline=$((SECONDS + 1200))
  until curl -fsS "http://127.0.0.1:$PORT/healthz" >"$WORK/healthz" 2>/dev/null; do
    if ! kill -0 "$RUN_PID" 2>/dev/null; then echo "make run exited early:"; tail -n 40 "$WORK/make-run.log"; return 1; fi
    if ((SECONDS > deadline)); then echo "no /healthz within 20 minutes"; tail -n 40 "$WORK/make-run.log"; return 1; fi
    sleep 1
  done
  echo "/healthz: $(cat "$WORK/healthz")"
  curl -fsS "http://127.0.0.1:$PORT/" >"$WORK/index.html" || { echo "GET / failed"; return 1; }
  local wasm
  wasm="$(grep -o '/[A-Za-z0-9_-]*_bg\.wasm' "$WORK/index.html" | head -n1)"
  [[ -n "$wasm" ]] || { echo "index.html names no wasm module"; return 1; }
  local bytes
  bytes="$(curl -fsS -o /dev/null -w '%{size_download}' "http://127.0.0.1:$PORT$wasm")" || { echo "GET $wasm failed"; return 1; }
  echo "client: index.html ok, $wasm served ($bytes bytes)"
  ((bytes > 100000)) || { echo "the wasm module is suspiciously small"; return 1; }
  kill -TERM -- "-$RUN_PID" 2>/dev/null || true
  wait "$RUN_PID" 2>/dev/null || true
  RUN_PID=""
}
phase "make run (release build, /healthz, client)" check_run

# 6. `make cluster` (PostgreSQL, nats-server, two nodes, HAProxy), checked through the load balancer:
#    /healthz answers, both nodes serve a session, then SIGTERM stops every part of it.
CLUSTER_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
check_cluster() {
  set -m
  COURIER_CLUSTER_PORT="$CLUSTER_PORT" make cluster >"$WORK/make-cluster.log" 2>&1 &
  CLUSTER_PID=$!
  set +m
  echo "make cluster started (log: $WORK/make-cluster.log); waiting for it to say it runs"
  local deadline=$((SECONDS + 900))
  until grep -q "Courier cluster running" "$WORK/make-cluster.log"; do
    if ! kill -0 "$CLUSTER_PID" 2>/dev/null; then echo "make cluster exited early:"; tail -n 40 "$WORK/make-cluster.log"; return 1; fi
    if ((SECONDS > deadline)); then echo "no cluster within 15 minutes"; tail -n 40 "$WORK/make-cluster.log"; return 1; fi
    sleep 1
  done
  sed -n '/Courier cluster running/,$p' "$WORK/make-cluster.log"
  curl -fsS "http://127.0.0.1:$CLUSTER_PORT/healthz" >"$WORK/cluster-healthz" || { echo "/healthz through HAProxy failed"; return 1; }
  echo "/healthz through HAProxy: $(cat "$WORK/cluster-healthz")"
  local ports
  ports="$(grep -oE 'courier [0-9]+ +http://127\.0\.0\.1:[0-9]+' "$WORK/make-cluster.log" | grep -oE '[0-9]+$')"
  [[ "$(wc -w <<<"$ports")" -eq 2 ]] || { echo "expected two nodes, found: $ports"; return 1; }
  for p in $ports; do
    curl -fsS "http://127.0.0.1:$p/healthz" >/dev/null || { echo "node on $p does not answer"; return 1; }
  done
  kill -TERM -- "-$CLUSTER_PID" 2>/dev/null || true
  wait "$CLUSTER_PID" 2>/dev/null || true
  # The nodes run as target/release/courier; nats-server, haproxy and PostgreSQL name their
  # temporary folders (courier-cluster.*, courier-pg.*) on their command lines.
  # (make exits at once; the script behind it is still stopping them: give it half a minute.)
  local left
  for _ in $(seq 30); do
    left="$(pgrep -af 'courier-cluster\.|courier-pg\.|^target/release/courier$' || true)"
    [[ -z "$left" ]] && break
    sleep 1
  done
  [[ -z "$left" ]] || { echo "processes left after stopping the cluster:"; echo "$left"; return 1; }
  echo "stopped: no node, nats-server, haproxy or PostgreSQL left"
}
phase "make cluster (PostgreSQL, NATS, 2 nodes, HAProxy)" check_cluster

report

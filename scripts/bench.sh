#!/usr/bin/env bash
# The full benchmark set (`make bench`): builds release, runs every courier-bench scenario at
# full size against a freshly spawned server each time, writes JSON under bench-results/<run>/,
# and prints a summary. Takes roughly 15-30 minutes on a 2-core machine. See docs/BENCHMARKS.md.
#
# Environment:
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   BENCH_ONLY         space-separated subset of step names to run, e.g. "throughput drain-100k"
#   BENCH_HOLD_SECONDS how long the connection scenarios hold their sockets (default 90: longer
#                      than the server's 60 s heartbeat timeout, so heartbeats are exercised)
#   BENCH_SERVER_ENV   extra KEY=VALUE pairs for the spawned servers (space-separated)
#   BENCH_DATABASE     the spawned servers' database: sqlite (default: a fresh temporary file per
#                      scenario, synchronous=full) or postgres. With postgres, one throwaway
#                      PostgreSQL 15 with durable settings (fsync and synchronous_commit on) is
#                      started for the whole run (`scripts/postgres.sh run --durable`; the script
#                      re-runs itself under it), and each scenario's server gets a fresh database on
#                      it (`courier-bench --postgres ADMIN_URL`), dropped afterwards. If
#                      COURIER_TEST_DATABASE_URL (an admin URL) is already set, that server is used
#                      as it is. The backend and the PostgreSQL settings are recorded in machine.txt
#                      and in every JSON result. The Playwright step always runs on SQLite.
set -uo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

DATABASE=${BENCH_DATABASE:-sqlite}
case "$DATABASE" in
    sqlite) ;;
    postgres)
        if [[ -z "${COURIER_TEST_DATABASE_URL:-}" ]]; then
            echo "==> BENCH_DATABASE=postgres: starting a throwaway PostgreSQL 15 (durable settings) for the whole run"
            exec bash scripts/postgres.sh run --durable -- env BENCH_DATABASE=postgres bash "$SELF" "$@"
        fi
        ;;
    *)
        echo "bench: BENCH_DATABASE must be sqlite or postgres, not '$DATABASE'" >&2
        exit 2
        ;;
esac

TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN="$TARGET_DIR/release"
RUN="bench-results/$(date -u +%Y%m%d-%H%M%S)"
HOLD=${BENCH_HOLD_SECONDS:-90}
ONLY=${BENCH_ONLY:-}
mkdir -p "$RUN"

step() { echo "==> [$(date +%H:%M:%S)] $*"; }

step "building release binaries: cargo build --release --bin courier --bin courier-bench (the first build takes several minutes)"
if ! cargo build --release --bin courier --bin courier-bench; then
    echo "bench: the release build failed" >&2
    exit 2
fi

{
    echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc:       $(nproc)"
    echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu:         $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel:      $(uname -r)"
    echo "rustc:       $(rustc --version 2>/dev/null || echo unknown)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit:      $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    if [[ $DATABASE == postgres ]]; then
        PSQL=/usr/lib/postgresql/15/bin/psql
        pg_show() { "$PSQL" "$COURIER_TEST_DATABASE_URL" -XAtq -c "$1" 2>/dev/null || echo unknown; }
        echo "database:    postgres, a fresh database per scenario (server settings as given)"
        echo "postgres:    $(pg_show 'SHOW server_version') at $(sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<< "$COURIER_TEST_DATABASE_URL")"
        echo "  fsync:              $(pg_show 'SHOW fsync')"
        echo "  synchronous_commit: $(pg_show 'SHOW synchronous_commit')"
        echo "  shared_buffers:     $(pg_show 'SHOW shared_buffers')"
    else
        sync=full
        for kv in ${BENCH_SERVER_ENV:-}; do
            [[ $kv == COURIER_SQLITE_SYNCHRONOUS=* ]] && sync=${kv#*=}
        done
        echo "database:    sqlite, a fresh temporary file per scenario (synchronous=$sync)"
    fi
} | tee "$RUN/machine.txt"

SERVER_ENV_ARGS=()
for kv in ${BENCH_SERVER_ENV:-}; do SERVER_ENV_ARGS+=(--server-env "$kv"); done
DB_ARGS=()
if [[ $DATABASE == postgres ]]; then DB_ARGS=(--postgres "$COURIER_TEST_DATABASE_URL"); fi

FAILED=()
# run <name> <what it does> <courier-bench arguments…>
run() {
    local name=$1 what=$2
    shift 2
    if [[ -n "$ONLY" && " $ONLY " != *" $name "* ]]; then
        return
    fi
    step "$name: $what"
    echo "    $BIN/courier-bench $* ${DB_ARGS[*]:+--postgres ADMIN_URL} --json $RUN/$name.json"
    if ! "$BIN/courier-bench" "$@" --spawn --server-bin "$BIN/courier" "${SERVER_ENV_ARGS[@]}" "${DB_ARGS[@]}" --json "$RUN/$name.json" \
        > >(tee "$RUN/$name.log") 2> >(tee "$RUN/$name.stderr.log" >&2); then
        FAILED+=("$name")
        echo "    $name FAILED (see $RUN/$name.log)"
    fi
    echo "    load now: $(cut -d' ' -f1-3 /proc/loadavg)"
}

run throughput "50 pairs × 2,000 messages, window 64, all online, every message acknowledged" \
    throughput --pairs 50 --messages-per-pair 2000 --window 64
run latency-1k "1,000 connected users, 1,000 msgs/s for 20 s" \
    latency --users 1000 --rate 1000 --seconds 20
run latency-5k "1,000 connected users, 5,000 msgs/s for 20 s" \
    latency --users 1000 --rate 5000 --seconds 20
run disk "the floor: 3,000 appends of 4 KiB + fdatasync in the database's folder, 5 ms apart" \
    disk --count 3000
run sequential "one sender, one send in flight, 5,000 messages back to back (acknowledged sends/s)" \
    sequential --messages 5000
run sequential-100 "one sender to one online recipient, 100 msgs/s for 30 s, one in flight (send→receive to p99.9 and max)" \
    sequential --rate 100 --seconds 30
run drain-10k "10,000 messages to an offline user from 8 senders, then connect and drain" \
    drain --messages 10000 --senders 8
run drain-100k "100,000 messages to an offline user from 8 senders, then connect and drain" \
    drain --messages 100000 --senders 8
run history-1m "fill one conversation with 1,000,000 messages (several minutes; progress is printed), then 1,000 page reads" \
    history --messages 1000000 --pages 1000
run connections-10k "10,000 idle WebSockets held ${HOLD} s with pings every 20 s" \
    connections --connections 10000 --hold-seconds "$HOLD"
# 50,000 sockets need > 50,000 open files in both processes. Only root with CAP_SYS_RESOURCE can
# raise the hard limit; where it cannot be raised, the largest size that fits is run instead.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
HARD=$(ulimit -Hn)
if [[ $HARD == unlimited ]] || (( HARD >= 52000 )); then
    run connections-50k "50,000 idle WebSockets held ${HOLD} s with pings every 20 s" \
        connections --connections 50000 --hold-seconds "$HOLD"
else
    MAXC=$(( (HARD - 1500) / 1000 * 1000 ))
    echo "==> note: the open-file hard limit is $HARD and cannot be raised here (needs CAP_SYS_RESOURCE):" \
         "50,000 connections do not fit; running the largest size that does, $MAXC" | tee "$RUN/connections-50k-skipped.txt"
    run connections-max "$MAXC idle WebSockets held ${HOLD} s with pings every 20 s (50,000 do not fit the fd limit)" \
        connections --connections "$MAXC" --hold-seconds "$HOLD"
fi

step "release client bundle size"
WASM_LINE="release client (gzip -9): not measured — dist/ has no .wasm (run \`make client\` first)"
shopt -s nullglob
wasm=(dist/*.wasm)
if (( ${#wasm[@]} > 0 )); then
    raw=0; gz=0
    for f in "${wasm[@]}"; do
        raw=$(( raw + $(stat -c %s "$f") ))
        gz=$(( gz + $(gzip -9 -c "$f" | wc -c) ))
    done
    js=0
    for f in dist/*.js; do js=$(( js + $(gzip -9 -c "$f" | wc -c) )); done
    verdict=$([[ $gz -le $((400 * 1024)) ]] && echo met || echo MISSED)
    WASM_LINE="release client: wasm ${raw} B raw, $(( gz / 1024 )) KiB gzip -9 (+ $(( js / 1024 )) KiB JS glue gzipped); target ≤ 400 KiB gzipped: $verdict"
fi
echo "$WASM_LINE" | tee "$RUN/client-size.txt"
if [[ -z "$ONLY" || " $ONLY " == *" interactive "* ]]; then
    step "time until the chat UI is interactive: Playwright in Chromium against the release server (end2end/tests/perf.spec.ts)"
    if COURIER_BIN="$(realpath "$BIN/courier")" E2E_WORKERS=1 E2E_PORT=${E2E_PORT:-3900} bash scripts/e2e.sh tests/perf.spec.ts > "$RUN/interactive.log" 2>&1 \
        && [[ -f end2end/test-results/perf.json ]]; then
        cp end2end/test-results/perf.json "$RUN/interactive.json"
        echo "time to interactive chat UI (Chromium): $(tr -d '\n ' < "$RUN/interactive.json")" | tee -a "$RUN/client-size.txt"
    else
        FAILED+=(interactive)
        echo "time to interactive chat UI (Chromium): FAILED (see $RUN/interactive.log)" | tee -a "$RUN/client-size.txt"
    fi
fi

step "summary ($RUN)"
if command -v python3 >/dev/null; then
    python3 - "$RUN" <<'EOF'
import json, pathlib, sys
run = pathlib.Path(sys.argv[1])
def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
rows = []
databases = set()
for f in sorted(run.glob("*.json"), key=lambda p: p.stat().st_mtime):
    doc = json.loads(f.read_text())
    if doc.get("database"):
        databases.add(doc["database"])
    for r in doc.get("results", []):
        ok = "verified" if r.get("verified") else "FAILED"
        rows.append((f.stem, ok, "", "", ""))
        metrics = r.get("metrics", {})
        for name in r.get("metric_order", list(metrics)):
            m = metrics[name]
            rows.append(("", "", name, fmt(m["value"]), m["unit"]))
        for t in r.get("targets", []):
            cmp = "≥" if t["comparison"] == ">=" else "≤"
            verdict = ("met" if t["met"] else "MISSED") if r.get("verified") else "not counted"
            scope = "" if t["applies_to_these_sizes"] else " (informative)"
            rows.append(("", "", "target: " + t["name"], f'{fmt(t["value"])} {cmp} {fmt(t["threshold"])}', verdict + scope))
for d in sorted(databases):
    print("database:", d)
w = [max((len(r[i]) for r in rows), default=0) for i in range(5)]
for r in rows:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
EOF
else
    ls -l "$RUN"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RUN/machine.txt"

if (( ${#FAILED[@]} > 0 )); then
    echo "bench: FAILED: ${FAILED[*]}" >&2
    exit 1
fi
echo "bench: every scenario verified; results in $RUN"

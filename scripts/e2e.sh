#!/usr/bin/env bash
# Runs Courier's Playwright end-to-end suite (end2end/) against an already built server binary
# and client bundle. It builds nothing: the Makefile builds target/debug/courier and dist/ first.
#
#   scripts/e2e.sh                      # whole suite
#   scripts/e2e.sh tests/recall.spec.ts # any arguments go to `playwright test`
#
# Environment:
#   COURIER_BIN   server binary (default: target/debug/courier)
#   E2E_WORKERS   Playwright workers (default 2), E2E_PORT first port (default 3100)
#
# Steps: check the binary and dist/; make sure Debian's Chromium is at /usr/bin/chromium
# (apt-get install -y chromium otherwise); `npm ci` in end2end/ only when node_modules is missing
# or package-lock.json changed; then `npx playwright test`, exiting with its status.
# The browser comes from Debian: Playwright's own browser download is always skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
E2E_DIR="$ROOT/end2end"
CHROMIUM=/usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export COURIER_BIN="${COURIER_BIN:-$ROOT/target/debug/courier}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'e2e: error: %s\n' "$*" >&2; exit 2; }

# 1. What we test: a prebuilt server and client.
[[ -x "$COURIER_BIN" ]] || die "server binary not found or not executable: $COURIER_BIN (build it first: cargo build, or make)"
[[ -f "$ROOT/dist/index.html" ]] || die "client bundle not found: $ROOT/dist/index.html (build it first: trunk build, or make)"
say "server binary: $COURIER_BIN"
say "client bundle: $ROOT/dist"

# 2. The browser: Debian's Chromium, never a Playwright download.
if [[ ! -x "$CHROMIUM" ]]; then
  say "$CHROMIUM is missing: installing Debian's chromium package (apt-get update && apt-get install -y chromium)"
  SUDO=""
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install chromium yourself (apt-get install -y chromium)"
    SUDO="sudo"
  fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
  [[ -x "$CHROMIUM" ]] || die "apt-get installed chromium but $CHROMIUM is still missing"
fi
say "browser: $("$CHROMIUM" --version 2>/dev/null | head -n1 || echo "$CHROMIUM")"

# 2b. A Chinese font, so that the zh-CN screenshots in the report are readable (the tests
#     themselves do not depend on it). Skip with E2E_SKIP_FONTS=1.
if [[ -z "${E2E_SKIP_FONTS:-}" ]] && command -v fc-list >/dev/null 2>&1 && [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "no Chinese font installed: apt-get install -y fonts-wqy-zenhei (for readable screenshots; E2E_SKIP_FONTS=1 skips)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-zenhei; then
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-zenhei \
        || say "warning: could not install fonts-wqy-zenhei; screenshots will show boxes for Chinese text"
    fi
  else
    say "note: no Chinese font installed; screenshots will show boxes for Chinese text (apt-get install fonts-wqy-zenhei)"
  fi
fi

# 3. Node dependencies, installed only when needed.
command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 20 is needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
cd "$E2E_DIR"
STAMP="node_modules/.courier-e2e-lock.sha256"
LOCK_SUM="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [[ ! -d node_modules ]]; then
  say "end2end/node_modules is missing: npm ci (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)"
  npm ci --no-audit --no-fund
  echo "$LOCK_SUM" > "$STAMP"
elif [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$LOCK_SUM" ]]; then
  say "package.json / package-lock.json changed since the last install: npm ci (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)"
  npm ci --no-audit --no-fund
  echo "$LOCK_SUM" > "$STAMP"
else
  say "npm dependencies are up to date (end2end/node_modules)"
fi

# 4. The suite.
say "running: npx playwright test $* (workers: ${E2E_WORKERS:-2}, first port: ${E2E_PORT:-3100})"
set +e
npx playwright test "$@"
status=$?
set -e
if [[ $status -eq 0 ]]; then
  say "end-to-end tests passed"
else
  say "end-to-end tests FAILED (exit status $status)"
fi
say "HTML report: $E2E_DIR/playwright-report/index.html (npx playwright show-report in end2end/)"
say "server logs: $E2E_DIR/test-results/server-logs/"
exit $status

#!/usr/bin/env bash
# Installs the build tools Courier needs, skipping whatever is already present.
# Versions are pinned (see docs/BUILD notes in README): Trunk 0.21.14 is the newest that
# builds on Rust 1.95, and the wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock.
set -euo pipefail

TRUNK_VERSION=0.21.14
cd "$(dirname "$0")/.."

# The wasm-bindgen version is read from Cargo.lock so the CLI always matches the crate.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}

# `cargo install` puts binaries in $CARGO_HOME/bin; look there first.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> adding the wasm32-unknown-unknown target (seconds)"
  rustup target add wasm32-unknown-unknown
fi

# wasm-opt halves the release client. It comes from npm's binaryen package (pinned in
# tools/wasm-opt/package.json): Debian's binaryen 108 breaks wasm-bindgen's reference-types table.
if [[ "$(tools/wasm-opt/node_modules/.bin/wasm-opt --version 2>/dev/null || true)" != *"version_132"* ]]; then
  echo "==> installing wasm-opt (npm package binaryen 132) into tools/wasm-opt (seconds)"
  (cd tools/wasm-opt && npm ci --silent --no-audit --no-fund)
fi

if [[ "$(trunk --version 2>/dev/null || true)" != "trunk $TRUNK_VERSION" ]]; then
  echo "==> installing Trunk $TRUNK_VERSION from crates.io: a first-time install takes about ten minutes on 2 cores"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  # Not --locked: its lock file pins a webpki-roots version the registry here does not serve.
  echo "==> installing wasm-bindgen CLI $WASM_BINDGEN_VERSION: a first-time install takes about four minutes"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

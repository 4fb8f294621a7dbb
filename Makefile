# Courier — the two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
# Tools installed by `cargo install` land in $CARGO_HOME/bin (~/.cargo/bin when CARGO_HOME is unset).
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CURDIR)/tools/wasm-opt/node_modules/.bin:$(CARGO_BIN):$(PATH)
# Trunk 0.21 would otherwise ask the network for a newer version.
export TRUNK_SKIP_VERSION_CHECK := true

.PHONY: run test test-postgres cluster tools fetch client server e2e bench-smoke bench lint fmt clean fresh-check

## make run: install what is missing, build client and server, start on http://127.0.0.1:3000
run: client
	@echo "==> building the server (release)"
	cargo build --release --bin courier
	@echo "==> starting Courier on http://127.0.0.1:3000 with the embedded SQLite database in ./data (Ctrl-C stops it)"
	./target/release/courier

## make cluster: PostgreSQL, nats-server, two Courier nodes and HAProxy on http://127.0.0.1:3000 (Ctrl-C stops all)
cluster: client
	@echo "==> building the server (release)"
	cargo build --release --bin courier
	@bash scripts/cluster.sh

## make test: install what is missing, then every test (Rust workspace on SQLite, the API suite again on
## PostgreSQL 15, bench smoke, Playwright in Chromium — one spec of it against a two-node cluster behind HAProxy)
test: client
	@echo "==> cargo test --workspace (SQLite)"
	cargo test --workspace
	@$(MAKE) --no-print-directory test-postgres
	@$(MAKE) --no-print-directory bench-smoke
	@$(MAKE) --no-print-directory e2e

tools:
	@bash scripts/install-tools.sh

# Every crate of the host and wasm32 builds, downloaded before anything builds with --offline
# (Trunk's --offline reaches cargo too). Takes under a second when they are already cached.
fetch:
	@echo "==> cargo fetch --locked (crates for the server and the wasm client; the first run downloads them)"
	@cargo fetch --locked

client: tools fetch
	@echo "==> building the web client with Trunk (release wasm; the first build takes a few minutes)"
	trunk build --offline --release

server:
	cargo build --bin courier

e2e: server
	@bash scripts/e2e.sh

## make test-postgres: the API suite (with the two-node cluster tests over NATS) and the benchmark smoke again, on
## a throwaway PostgreSQL 15 (Debian's postgresql, nats-server and haproxy — the last for the e2e cluster spec —
## installed if missing; the server runs as the
## postgres user on a free loopback port and is stopped afterwards)
test-postgres:
	@bash scripts/install-services.sh --with-haproxy
	cargo build --bin courier --bin courier-bench
	@echo "==> cargo test --test api and courier-bench smoke on PostgreSQL 15 (a throwaway server, stopped afterwards)"
	@bash scripts/postgres.sh run -- bash -c 'cargo test --test api && ./target/debug/courier-bench smoke --server-bin ./target/debug/courier --postgres "$$COURIER_TEST_DATABASE_URL"'

bench-smoke:
	@echo "==> courier-bench smoke (tiny sizes, verifies every scenario end to end)"
	cargo build --bin courier --bin courier-bench
	./target/debug/courier-bench smoke --server-bin ./target/debug/courier

## make bench: the full benchmark set (takes a long time; see docs/BENCHMARKS.md)
bench: client
	@bash scripts/bench.sh

## make fresh-check: a clean clone, empty CARGO_HOME and npm cache, then `make test` and `make run` (about half an hour)
fresh-check:
	@bash scripts/fresh-check.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p app --features csr --target wasm32-unknown-unknown -- -D warnings

fmt:
	cargo fmt --all

clean:
	cargo clean
	rm -rf dist end2end/test-results end2end/playwright-report

#!/usr/bin/env bash
# The services the PostgreSQL and cluster tests start (facts: ../shared/design/SCALE.md), from Debian's
# packages, installed only when missing (idempotent; quick when present):
#
#   postgresql   PostgreSQL 15 (scripts/postgres.sh starts a throwaway server)
#   nats-server  core NATS, for cross-node push (tests/api/cluster.rs starts its own)
#   haproxy      only with --with-haproxy: the load balancer of `make cluster`
#
# Nothing is started here. On machines where Debian's init scripts would start system instances on
# the default ports, the tests never use those ports (each picks a free one).
set -euo pipefail

say() { printf '==> %s\n' "$*"; }
missing=()
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql)
[[ -x /usr/sbin/nats-server || -x /usr/bin/nats-server ]] || missing+=(nats-server)
if [[ "${1:-}" == "--with-haproxy" ]]; then
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
fi
(( ${#missing[@]} == 0 )) && exit 0

say "installing Debian packages: ${missing[*]} (about a minute)"
sudo=""
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-services.sh: not root and no sudo: apt-get install -y ${missing[*]} yourself" >&2; exit 2; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
say "installed: ${missing[*]}"

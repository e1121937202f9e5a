#!/usr/bin/env bash
# Run a benchmark from bench/ (default: ring_voice) in the private loopback-only network namespace.
# Usage: scripts/bench.sh [ring_voice|recovery|presence_load|capacity|relay_cost|failover|voice_client|turn_relay|
#   janus|group|abuse|anonymous_pages|fuzz]
#   [args...]   (bench/metrics_scrape.py runs without it)
#   scripts/bench.sh fuzz --examples 10000   signaling fuzz (no browser, no network): exits 1 on any broken invariant
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
name="${1:-ring_voice}"
shift || true
if [ "$name" = fuzz ]; then  # pure Python against the core: no namespace needed
  exec env PYTHONPATH=. .venv/bin/python -m bench.fuzz "$@"
fi
inner='ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$@"'
ns="unshare --net --fork"
[ "$(id -u)" = 0 ] || ns="unshare -rn --fork"
exec $ns sh -c "$inner" sh env PYTHONPATH=. .venv/bin/python "bench/$name.py" "$@"

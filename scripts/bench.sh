#!/usr/bin/env bash
# Run a benchmark from bench/ (default: ring_voice) in the private loopback-only network namespace.
# Usage: scripts/bench.sh [ring_voice] [args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
name="${1:-ring_voice}"
shift || true
inner='ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$@"'
ns="unshare --net --fork"
[ "$(id -u)" = 0 ] || ns="unshare -rn --fork"
exec $ns sh -c "$inner" sh env PYTHONPATH=. .venv/bin/python "bench/$name.py" "$@"

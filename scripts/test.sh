#!/usr/bin/env bash
# Install everything the tests need (Chromium included), lint, type-check, check the layering, then run every
# test. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # strict, on the app's code (pyproject.toml [tool.mypy])
.venv/bin/lint-imports  # the layering contracts (pyproject.toml [tool.importlinter])
# Browser and media tests run in a private network namespace where only loopback exists: no media packet
# can reach another address. aiortc skips 127.0.0.1 as a host candidate, hence 127.0.0.2 as well.
inner='ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$@"'
if [ "$(id -u)" = 0 ]; then
  exec unshare --net --fork sh -c "$inner" sh .venv/bin/python -m pytest "$@"
else
  exec unshare -rn --fork sh -c "$inner" sh .venv/bin/python -m pytest "$@"
fi

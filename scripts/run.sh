#!/usr/bin/env bash
# Install what the app needs (first time only) and serve it on http://127.0.0.1:8080 (see README for settings).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python main.py

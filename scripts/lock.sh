#!/usr/bin/env bash
# Pin every dependency, with hashes, for the app (requirements/app.txt) and for the tests (requirements/test.txt),
# from pyproject.toml. scripts/bootstrap.sh installs from these files with pip, so a fresh machine gets what CI
# tested. Run it after changing dependencies in pyproject.toml; `--upgrade` moves every pin to the newest release
# allowed. (uv only resolves here; nothing needs it to install.)
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q --disable-pip-version-check uv
compile() {  # output file, then uv's extra arguments
  local out=$1
  shift
  "$tools/bin/uv" pip compile -q pyproject.toml --generate-hashes --python-version 3.11 \
    --universal --no-header --output-file "$out" "$@"
}
compile requirements/app.txt "$@"
compile requirements/test.txt --extra test "$@"

#!/usr/bin/env bash
# Make .venv with VoiceConnect and the pinned versions of what it needs (and of what its tests need, with `--test`;
# with `--cluster`, Debian's redis-server and haproxy for scripts/cluster.sh; with `--janus`, Debian's janus). Safe to
# run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {  # Debian/Ubuntu packages, only those missing
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt_install python3-venv
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
lock=requirements/app.txt
if [ "${1:-}" = "--cluster" ]; then
  apt_install redis-server haproxy
fi
if [ "${1:-}" = "--janus" ]; then  # scripts/cluster.sh --janus: Janus Gateway, for group calls
  apt_install janus
fi
if [ "${1:-}" = "--test" ]; then
  lock=requirements/test.txt
  # Chromium for the browser tests (Playwright's own download is not used), iproute2 for the private network
  # namespace; Redis and HAProxy for the several-processes tests (each test run starts its own, on free ports),
  # coturn for the relay-only call test, janus for the group calls' AudioBridge
  apt_install chromium iproute2 util-linux redis-server haproxy coturn janus
fi
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip
# exactly the versions CI tested, each checked against its hash (scripts/lock.sh writes the lock files)
"${pip[@]}" --require-hashes -r "$lock"
"${pip[@]}" --no-deps -e .
